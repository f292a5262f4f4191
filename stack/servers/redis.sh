# Redis from Debian's packages: the cache, the rate limiter and the registry
# of live service instances. Nothing in it needs to survive a restart, so it
# runs without persistence.

redis_install() {
  apt_install redis-server redis-tools
}

redis_cli() {
  redis-cli -h 127.0.0.1 -p "$WORKUP_REDIS_PORT" "$@"
}

redis_start() {
  local pid_file=$RUN_DIR/redis.pid
  if pid_alive "$pid_file"; then
    say redis "already running on 127.0.0.1:$WORKUP_REDIS_PORT"
    return 0
  fi
  require_free_port redis "$WORKUP_REDIS_PORT"

  mkdir -p "$WORKUP_STATE_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$WORKUP_REDIS_PORT" \
    --dir "$WORKUP_STATE_DIR/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$pid_file" --logfile "$LOG_DIR/redis.log" \
    || fail redis "redis-server did not start" "$LOG_DIR/redis.log"

  wait_until 30 probe redis || fail redis "server answers no PING" "$LOG_DIR/redis.log"
  say redis "ready on 127.0.0.1:$WORKUP_REDIS_PORT"
}

redis_status() {
  if [[ $(redis_cli ping 2>/dev/null) == PONG ]]; then
    say redis "answering on 127.0.0.1:$WORKUP_REDIS_PORT"
  else
    say redis "not running"
    return 1
  fi
}

redis_stop() {
  local pid_file=$RUN_DIR/redis.pid
  pid_alive "$pid_file" || { say redis "not running"; return 0; }
  stop_pid "$pid_file" 15
  say redis "stopped"
}
