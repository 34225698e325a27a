#!/usr/bin/env bash
# Benchmarks (not tests): each prints figures measured in one run.
#   scripts/bench.sh fan-out   the orchestrator fanning out FAN_OUT_WORKSPACES (default 100,000)
#   scripts/bench.sh ingest    syncing INGEST_EVENTS events (default 10,000) from the fake Google server vs raw COPY,
#                              and the same sync through PgBouncer in transaction mode vs direct
#   scripts/bench.sh engine    the scheduling engine on the medium and large scenarios
#   scripts/bench.sh calendar-reads  the schedulers' event reads on CALENDAR_EVENTS (default 200,000)
#                              events, production's indexes vs the recommended one
#   scripts/bench.sh cold-start  each function's init time and peak memory vs a hello-world Lambda
#   scripts/bench.sh drain     end-to-end drain of DRAIN_MESSAGES (default 1,000) calendar-sync messages vs a no-op consumer
#   scripts/bench.sh drain-pooled  the same, the workers reaching Postgres through PgBouncer in
#                              transaction mode, directly after the direct run
#   scripts/bench.sh freshness change-to-row time with push vs polling over FRESHNESS_WORKSPACES (default 100),
#                              and Google calls per hour of those workspaces idle, push vs polling
#   scripts/bench.sh           all of them (fan-out with FAN_OUT_WORKSPACES default 10,000), then the
#                              README's performance table, also written to .local/bench/performance.md
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install.sh
bash scripts/stack.sh up
set -a
# shellcheck disable=SC1091
source "$STATE_DIR/env"
set +a

bench() { cargo bench -p integration-tests --bench "$1"; }

case "${1:-all}" in
  fan-out) bench fan_out ;;
  ingest) bench ingest ;;
  engine) bench schedule_engine ;;
  calendar-reads) bench calendar_reads ;;
  cold-start) bench cold_start ;;
  drain-pooled)
    log "drain, direct"
    bench drain
    log "drain, through PgBouncer in transaction mode"
    TEST_POOLER_URL="$DATABASE_POOLER_URL" bench drain
    ;;
  drain) bench drain ;;
  freshness) bench freshness ;;
  all)
    export FAN_OUT_WORKSPACES="${FAN_OUT_WORKSPACES:-10000}"
    out="$STATE_DIR/bench"
    mkdir -p "$out"
    : > "$out/all.log"
    for name in ingest calendar_reads fan_out schedule_engine cold_start drain freshness; do
      bench "$name" | tee -a "$out/all.log"
    done
    {
      echo "| figure (each ratio measured in the same run) | measured | ratio |"
      echo "|---|---|---|"
      grep '^| ' "$out/all.log"
    } > "$out/performance.md"
    echo
    cat "$out/performance.md"
    ;;
  *) die "usage: scripts/bench.sh [fan-out|ingest|drain-pooled|calendar-reads|engine|cold-start|drain|freshness|all]" ;;
esac
