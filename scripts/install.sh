#!/usr/bin/env bash
# Installs what the local stack and the tests need, only where it is missing.
# Debian packages (PostgreSQL, PgBouncer, faketime), PyPI packages (moto's server, cfn-lint, the SAM CLI, cargo-lambda)
# and the Rust arm64 target through rustup; nothing else is downloaded.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

if ! pg_bin_dir >/dev/null; then
  log "installing PostgreSQL (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # Only our own throwaway cluster is used; keep the packaged one from starting.
  as_root service postgresql stop >/dev/null 2>&1 || true
fi

# PgBouncer: the transaction-mode pooler the pooled test pass goes through (Supabase's 6543).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  log "installing PgBouncer (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  # Only our own instance (scripts/stack.sh) is used; keep the packaged one from starting.
  as_root service pgbouncer stop >/dev/null 2>&1 || true
fi

# libfaketime: the clock check shifts the process clock of the suites and the stack with it.
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  log "installing faketime (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
fi

pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

# The SAM CLI first: it brings its own cfn-lint and boto versions, which the pins below then settle.
if [ "$(sam --version 2>/dev/null | awk '{print $4}')" != "$SAM_CLI_VERSION" ]; then
  log "installing aws-sam-cli==$SAM_CLI_VERSION (PyPI)"
  pip_install "aws-sam-cli==$SAM_CLI_VERSION"
fi
# cargo-lambda from PyPI brings zig, which links the arm64 binaries (no cross toolchain needed).
if [ "$(cargo lambda --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LAMBDA_VERSION" ]; then
  log "installing cargo-lambda==$CARGO_LAMBDA_VERSION (PyPI)"
  pip_install "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi

if ! python3 -c "import moto, flask, flask_cors, yaml, boto3" 2>/dev/null \
   || [ "$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
  log "installing moto[server]==$MOTO_VERSION (PyPI)"
  pip_install "moto[server]==$MOTO_VERSION"
fi
if ! command -v moto_server >/dev/null 2>&1; then
  hash -r
  command -v moto_server >/dev/null 2>&1 || die "moto_server is not on PATH after installing moto[server]"
fi
if [ "$(cfn-lint --version 2>/dev/null | awk '{print $2}')" != "$CFN_LINT_VERSION" ]; then
  log "installing cfn-lint==$CFN_LINT_VERSION (PyPI)"
  pip_install "cfn-lint==$CFN_LINT_VERSION"
fi

command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust with rustup first"
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  log "adding the aarch64-unknown-linux-gnu target (Lambda arm64)"
  rustup target add aarch64-unknown-linux-gnu
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    log "adding the $component component"
    rustup component add "$component"
  fi
done
