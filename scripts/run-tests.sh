#!/usr/bin/env bash
# Run the whole suite against SQLite and then PostgreSQL (or just the one named in $1).
# Redis and PostgreSQL are found or started first; tests use Redis database 15.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="${1:-sqlite postgres}"
export TRAINQ_TEST_REDIS_URL="${TRAINQ_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
scripts/ensure-redis.sh "$TRAINQ_TEST_REDIS_URL"
status=0
for target in $targets; do
  echo "=== test suite on $target ==="
  if [ "$target" = postgres ]; then
    if [ -z "${TRAINQ_TEST_POSTGRES_URL:-}" ]; then
      scripts/ensure-postgres.sh
      export TRAINQ_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    fi
  fi
  TRAINQ_TEST_DB="$target" .venv/bin/python -m pytest ${PYTEST_ARGS:-} || status=$?
done
exit $status
