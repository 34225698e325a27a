# Shared settings of the local stack, sourced by the other scripts.
# Everything can be overridden from the environment.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${LOCAL_STATE_DIR:-$REPO_ROOT/.local}"
PG_PORT="${LOCAL_PG_PORT:-54329}"
MOTO_PORT="${LOCAL_MOTO_PORT:-54330}"
POOLER_PORT="${LOCAL_POOLER_PORT:-54331}"
PG_DB="${LOCAL_PG_DB:-tuturuuu_jobs}"
CFN_LINT_VERSION="1.58.0"
MOTO_VERSION="5.2.1"
CARGO_LAMBDA_VERSION="1.9.2"
SAM_CLI_VERSION="1.170.0"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:$MOTO_PORT}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB}"
# PgBouncer in transaction mode in front of the same cluster (what Supabase's port 6543 is).
export DATABASE_POOLER_URL="${DATABASE_POOLER_URL:-postgres://postgres@127.0.0.1:$POOLER_PORT/$PG_DB}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
