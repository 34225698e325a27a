#!/usr/bin/env bash
# The clock check: the time-sensitive suites run again with the clock of every process they
# touch (Postgres, moto's server, the test binaries) shifted by libfaketime to instants chosen to
# catch a test that reads the wall clock: either side of midnight UTC and of the 06:00-15:00 UTC
# band, and the days Europe/Berlin and America/New_York change to summer time. A suite that
# passes here passes at any hour.
#
#   scripts/clock-check.sh [INSTANT ...]    default: the four instants below (UTC)
#
# It runs on a stack of its own (ports, data directory, state directory) so the main one is
# untouched, and runs test binaries that are already built: cargo itself never runs under the
# shifted clock (it compares file times). CLOCK_CHECK_FILTER passes a test-name filter to every
# suite; CLOCK_CHECK_SUITES overrides the suite list.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

DEFAULT_INSTANTS=(
  "2027-03-28T00:30:00Z" # Europe/Berlin springs forward at 01:00 UTC (01:30 in Berlin)
  "2027-03-14T06:30:00Z" # America/New_York springs forward at 07:00 UTC (15:30 in Tokyo)
  "2026-12-03T10:30:00Z" # 19:30 in Tokyo: the old unified-schedule test failed here
  "2026-12-04T15:30:00Z" # a Friday afternoon in UTC, Saturday 00:30 in Tokyo
  "2026-12-05T23:30:00Z" # Saturday night in UTC, Sunday morning in Asia
)
# Integration suites by test target, unit suites by package (their library's tests).
# shellcheck disable=SC2206
SUITES=(${CLOCK_CHECK_SUITES:-unified_schedule schedule_task calendar_sync calendar_rows batch_runner orchestrator shared-lib google-sync-lib unified-schedule-lib schedule-task-lib orchestrator-lib})
if [ "$#" -gt 0 ]; then instants=("$@"); else instants=("${DEFAULT_INSTANTS[@]}"); fi

FAKETIME_LIB="$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)"
[ -n "$FAKETIME_LIB" ] || die "libfaketime is not installed: run scripts/install.sh"

# The test binaries of the suites, from cargo's own listing (`cargo test` built them already):
# name, package directory (a test's working directory), executable.
binaries="$(cargo test --workspace --all-targets --no-run --message-format=json 2>/dev/null | python3 -c '
import json, os, sys
wanted = set(sys.argv[1:])
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") != "compiler-artifact" or not message.get("executable"):
        continue
    target = message["target"]
    if not message["profile"]["test"] or "bench" in target["kind"]:
        continue
    package = os.path.basename(os.path.dirname(message["manifest_path"]))
    kind = target["kind"][0]
    name = target["name"] if kind == "test" else package + "-" + kind
    if name in wanted:
        print(name, os.path.dirname(message["manifest_path"]), message["executable"])
' "${SUITES[@]}")"
[ "$(grep -c . <<<"$binaries")" -eq "${#SUITES[@]}" ] \
  || die "expected test binaries for ${SUITES[*]}, found: $binaries"

# Runs a command on the shifted clock. Only the commands named here get libfaketime, each
# without a semaphore inherited from another process (libfaketime exits when that is gone).
faked() {
  env -u FAKETIME_SHARED LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$FAKE_OFFSET" \
    FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 "$@"
}

# libfaketime keeps a semaphore and a shared-memory file per process in /dev/shm and leaves
# them behind when a process is killed; a later process with the same pid then cannot start
# (pids wrap). Between instants no faked process is alive, so they are cleared there.
clear_faketime_files() {
  rm -f /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_* 2>/dev/null || true
}

# `clock_stack faked up` starts the stack on the shifted clock; `clock_stack down` stops it.
clock_stack() {
  local run=()
  if [ "$1" = faked ]; then run=(faked); shift; fi
  LOCAL_STATE_DIR="$CLOCK_STATE" LOCAL_PG_PORT=54339 LOCAL_MOTO_PORT=54340 LOCAL_POOLER_PORT=54341 \
    LOCAL_PG_DIR="/tmp/tuturuuu-jobs-clock-pg" LOCAL_JOBS_BIN="$REPO_ROOT/target/debug/jobs" \
    AWS_ENDPOINT_URL="http://127.0.0.1:54340" \
    DATABASE_URL="postgres://postgres@127.0.0.1:54339/$PG_DB" \
    "${run[@]}" bash scripts/stack.sh "$@"
}

CLOCK_STATE="$STATE_DIR/clock"
# Never leave the shifted stack behind, whatever stops the check.
unset FAKETIME_SHARED
trap 'clock_stack down >/dev/null 2>&1 || true; clear_faketime_files' EXIT
mkdir -p "$CLOCK_STATE/logs"
failed=()
# The cluster is created on the real clock (initdb checks its programs' output, which a
# libfaketime warning would spoil); every instant then starts it on its shifted clock.
clock_stack up >"$CLOCK_STATE/stack.log" 2>&1 \
  || { cat "$CLOCK_STATE/stack.log" >&2; die "the clock check's stack did not start"; }
clock_stack down
for instant in "${instants[@]}"; do
  target="$(date -u -d "$instant" +%s)" || die "not an instant: $instant"
  offset=$((target - $(date -u +%s)))
  # A relative offset (not a fixed start) keeps every process on one shifted clock; the
  # monotonic clock stays real, so timeouts and sleeps behave; file times stay real.
  FAKE_OFFSET="$(printf '%+d' "$offset")"
  log "clock check at $instant (the process clock reads $(faked date -u +%FT%TZ))"
  clock_stack down >/dev/null 2>&1
  clear_faketime_files
  clock_stack faked up >"$CLOCK_STATE/stack.log" 2>&1 \
    || { cat "$CLOCK_STATE/stack.log" >&2; die "the clock check's stack did not start at $instant"; }
  # shellcheck disable=SC1091
  source "$CLOCK_STATE/env"
  # The suites are independent (each test has its own database and queues): run them at once.
  pids=()
  while read -r name dir binary; do
    # shellcheck disable=SC2086
    (cd "$dir" && faked "$binary" ${CLOCK_CHECK_FILTER:-}) >"$CLOCK_STATE/logs/$name.log" 2>&1 &
    pids+=("$!")
  done <<<"$binaries"
  i=0
  while read -r name dir binary; do
    out="$CLOCK_STATE/logs/$name.log"
    if wait "${pids[$i]}"; then
      printf '  %-22s %s\n' "$name" "$(grep '^test result:' "$out" | tail -n 1)"
    else
      printf '  %-22s FAILED\n' "$name"
      grep -E '^(---- |thread .* panicked|  left|  right|test result:)' "$out" | head -n 20 | sed 's/^/    /'
      failed+=("$name at $instant")
    fi
    i=$((i + 1))
  done <<<"$binaries"
  clock_stack down >/dev/null 2>&1
done

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'clock check failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
log "clock check: every suite passed at ${#instants[@]} instants"
