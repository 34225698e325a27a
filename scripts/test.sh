#!/usr/bin/env bash
# Runs every check and test (the README's test command; .ci/run runs exactly this).
# Installs what is missing, starts the local stack (Postgres + moto) if it is not up, then:
# formatting, clippy, cfn-lint, the template/workspace agreement check, `sam validate --lint`,
# an arm64 release build of every function with cargo-lambda, `cargo test --no-fail-fast`, the
# job suites a second time through PgBouncer in transaction mode (as Supabase's port 6543 is
# reached), and the clock check (scripts/clock-check.sh: the time-sensitive suites at shifted
# clocks).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install.sh
bash scripts/stack.sh up
# shellcheck disable=SC1091
source "$STATE_DIR/env"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cfn-lint template.yaml"
cfn-lint template.yaml
log "template and workspace agree"
python3 scripts/check_template.py
log "sam validate --lint"
sam validate --lint --region "${AWS_REGION:-us-east-1}"
log "cargo lambda build --release --arm64 (every function)"
functions=(functions/*/)
packages=()
for dir in "${functions[@]}"; do packages+=(-p "$(basename "$dir")"); done
cargo lambda build --release --arm64 "${packages[@]}"
for dir in "${functions[@]}"; do
  bootstrap="target/lambda/$(basename "$dir")/bootstrap"
  # ELF e_machine 183 is AArch64.
  python3 -c 'import sys; h = open(sys.argv[1], "rb").read(20); sys.exit(h[:4] != b"\x7fELF" or int.from_bytes(h[18:20], "little") != 183)' "$bootstrap" \
    || die "$bootstrap is missing or not an arm64 binary"
done
log "cargo test --no-fail-fast"
results="$STATE_DIR/cargo-test.log"
status=0
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$results" || status=1
# Every suite whose code under test reaches Postgres, again: the code under test now reaches each
# test database through the pooler (integration_tests::db), so a query that is not safe there
# fails (design §14). The suites that migrate or drive `jobs local` need a session and stay direct.
log "the job suites again, through PgBouncer in transaction mode"
pooled_suites=(calendar_sync calendar_rows push_sync calendar_webhook orchestrator schedule_task
  unified_schedule batch_runner real_schema cli fault_injection schedule_faults)
pooled_args=()
for suite in "${pooled_suites[@]}"; do pooled_args+=(--test "$suite"); done
TEST_POOLER_URL="$DATABASE_POOLER_URL" cargo test -p integration-tests --no-fail-fast "${pooled_args[@]}" 2>&1 \
  | sed -u 's/^test result:/pooled test result:/' | tee -a "$results" || status=1
# The pooler keeps server connections to each test database, so sqlx could not drop them.
bash scripts/stack.sh drop-test-databases
# One closing line for the whole run: the sum of every test binary's result line, both passes.
awk '/^(pooled )?test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
# The time-sensitive suites again, at shifted process clocks (runs even when a test failed
# above, so one run shows every failure).
log "clock check: the time-sensitive suites at shifted clocks"
bash scripts/clock-check.sh || status=1
exit "$status"
