#!/usr/bin/env bash
# Runs the system end to end locally (the README's first command): installs what is missing,
# starts the local stack, then `jobs demo` seeds a workspace, enqueues schedule-task messages
# on the local SQS server and drains them through the real handler. Safe to run repeatedly.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install.sh
bash scripts/stack.sh up
# shellcheck disable=SC1091
source "$STATE_DIR/env"
cargo run --quiet -p jobs-cli --bin jobs -- demo
