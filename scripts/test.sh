#!/usr/bin/env bash
# Runs every check and test (the README's test command; .ci/run runs exactly this).
# Installs what is missing, starts the local stack (Postgres + moto) if it is not up, then:
# formatting, clippy, cfn-lint, the template/workspace agreement check, and `cargo test`.
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
log "cargo test"
results="$STATE_DIR/cargo-test.log"
cargo test --workspace --all-targets 2>&1 | tee "$results"
# One closing line for the whole run: the sum of every test binary's result line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
