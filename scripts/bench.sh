#!/usr/bin/env bash
# Benchmarks (not tests): each prints figures measured in one run.
#   scripts/bench.sh fan-out   the orchestrator fanning out FAN_OUT_WORKSPACES (default 100,000)
#   scripts/bench.sh ingest    syncing INGEST_EVENTS events (default 10,000) from the fake Google server vs raw COPY
#   scripts/bench.sh engine    the scheduling engine on the medium and large scenarios
#   scripts/bench.sh cold-start  each function's init time and peak memory vs a hello-world Lambda
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install.sh
bash scripts/stack.sh up
set -a
# shellcheck disable=SC1091
source "$STATE_DIR/env"
set +a

case "${1:-}" in
  fan-out) cargo bench -p integration-tests --bench fan_out ;;
  ingest) cargo bench -p integration-tests --bench ingest ;;
  engine) cargo bench -p integration-tests --bench schedule_engine ;;
  cold-start) cargo bench -p integration-tests --bench cold_start ;;
  *) die "usage: scripts/bench.sh fan-out|ingest|engine|cold-start" ;;
esac
