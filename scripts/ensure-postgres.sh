#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 for the test suite: start the local cluster,
# or install Debian's postgresql first when it is missing and we may.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then echo "postgres: answering"; exit 0; fi
if ! command -v pg_ctlcluster >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "postgres: installing Debian's postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "postgres: not installed; install PostgreSQL or set TRAINQ_TEST_POSTGRES_URL" >&2; exit 1
  fi
fi
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 100); do ready && { echo "postgres: started ($version)"; exit 0; }; sleep 0.1; done
echo "postgres: could not start the local cluster; see /var/log/postgresql" >&2; exit 1
