#!/usr/bin/env bash
# Runs the whole system end to end locally (the README's first command): installs what is
# missing, starts the local stack, builds the function binaries, then `jobs local` seeds demo
# workspaces (Google calendars served by a fake Google, a habit-heavy workspace), fires every
# orchestrator once and drains every queue through the real function binaries, each behind a
# local Lambda Runtime API. Prints progress and a summary. Safe to run repeatedly.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install.sh
bash scripts/stack.sh up
set -a
# shellcheck disable=SC1091
source "$STATE_DIR/env"
set +a
log "building the function binaries and the jobs CLI"
cargo build --quiet --bins
target/debug/jobs local "$@"
