# bench/lib/redis.sh: what the benches share to get their tools and a private redis-server, so
# that each starts and stops one the same way. Sourced, never run.
#
# need CMD PACKAGE   installs PACKAGE with apt-get when CMD is missing
# redis_start DIR    a redis-server on DIR/redis.sock (no port, no persistence), answering
# redis_stop DIR     stops it and waits until it has gone, so that DIR can be removed

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }

redis_start() {
  need redis-server redis-server
  need redis-cli redis-tools
  redis-server --port 0 --unixsocket "$1/redis.sock" --save '' --appendonly no \
    --daemonize yes --pidfile "$1/redis.pid" --logfile "$1/redis.log" --dir "$1"
  for _ in $(seq 100); do redis-cli -s "$1/redis.sock" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "the private redis-server did not answer:" >&2
  cat "$1/redis.log" >&2
  return 1
}

redis_stop() {
  local pid
  [ -f "$1/redis.pid" ] || return 0
  pid=$(cat "$1/redis.pid")
  kill "$pid" 2>/dev/null || return 0
  # A daemonized server is not our child: wait for it by polling, as it removes its socket and
  # pid file on the way out.
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
}
