#!/usr/bin/env bash
# Make sure a Redis server answers at the URL given (default redis://127.0.0.1:6379/0).
# Starts a local one with persistence on (append-only, no eviction) when none answers,
# installing Debian's redis-server first if it is missing and we may.
set -euo pipefail
url="${1:-redis://127.0.0.1:6379/0}"
hostport="${url#redis://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379
var_dir="${TRAINQ_VAR_DIR:-./var}"

# The whole exchange under one timeout: a connect to a host that drops packets would hang.
answers() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && head -c 5 <&3' \
    "$host" "$port" 2>/dev/null | grep -q PONG
}

warn_if_volatile() {
  command -v redis-cli >/dev/null || return 0
  local aof
  aof="$(redis-cli -h "$host" -p "$port" CONFIG GET appendonly 2>/dev/null | tail -n 1)"
  if [ "$aof" = "no" ]; then
    echo "redis: WARNING: the Redis at $host:$port keeps no append-only log; queued jobs are lost if it restarts (set appendonly yes, maxmemory-policy noeviction)" >&2
  fi
}

if answers; then echo "redis: answering at $host:$port"; warn_if_volatile; exit 0; fi
case "$host" in 127.0.0.1|localhost|::1) ;; *)
  echo "redis: nothing answers at $host:$port and it is not this machine; start it there or set TRAINQ_REDIS_URL" >&2; exit 1;;
esac
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "redis: installing Debian's redis-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis: redis-server is not installed; install it (e.g. 'sudo apt-get install redis-server') or point TRAINQ_REDIS_URL at a running Redis" >&2
    exit 1
  fi
fi
mkdir -p "$var_dir/redis"
redis-server --daemonize yes --bind "$host" --port "$port" --dir "$(cd "$var_dir/redis" && pwd)" \
  --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
  --logfile "$(cd "$var_dir/redis" && pwd)/redis.log"
for _ in $(seq 50); do answers && { echo "redis: started at $host:$port (data in $var_dir/redis)"; exit 0; }; sleep 0.1; done
echo "redis: started but not answering; see $var_dir/redis/redis.log" >&2; exit 1
