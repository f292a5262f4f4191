# RabbitMQ from Debian's packages: every command and reply travels through it.
# It runs from the package's own launcher, as this user, with its node name,
# data and logs under the state directory instead of /var/lib/rabbitmq.

RABBITMQ_BIN=/usr/lib/rabbitmq/bin

rabbitmq_install() {
  apt_install rabbitmq-server
}

rabbitmq_env() {
  export RABBITMQ_NODENAME=workup@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$WORKUP_RABBITMQ_PORT
  export RABBITMQ_DIST_PORT=$((WORKUP_RABBITMQ_PORT + 20000))
  export RABBITMQ_MNESIA_BASE=$WORKUP_STATE_DIR/rabbitmq/mnesia
  export RABBITMQ_LOG_BASE=$LOG_DIR
  export RABBITMQ_LOGS=$LOG_DIR/rabbitmq.log
  export RABBITMQ_PID_FILE=$RUN_DIR/rabbitmq.pid
  export RABBITMQ_CONFIG_FILE=$WORKUP_STATE_DIR/rabbitmq/rabbitmq.conf
  export RABBITMQ_ENABLED_PLUGINS_FILE=$WORKUP_STATE_DIR/rabbitmq/enabled_plugins
  # The Erlang port mapper is started by the node; keep it off the network too.
  export ERL_EPMD_ADDRESS=127.0.0.1
}

rabbitmq_write_config() {
  local dir=$WORKUP_STATE_DIR/rabbitmq
  mkdir -p "$dir/mnesia"
  cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$WORKUP_RABBITMQ_PORT
loopback_users.guest = true
# Publishers are blocked above this; sized for a shared 24 GiB machine.
vm_memory_high_watermark.absolute = 2GB
disk_free_limit.absolute = 200MB
log.console = false
log.file.level = info
CONF
  echo '[].' >"$dir/enabled_plugins"
}

rabbitmq_start() {
  rabbitmq_env
  local pid_file=$RUN_DIR/rabbitmq_launcher.pid
  if pid_alive "$pid_file" && probe rabbitmq >/dev/null 2>&1; then
    say rabbitmq "already running on 127.0.0.1:$WORKUP_RABBITMQ_PORT"
    return 0
  fi
  require_free_port rabbitmq "$WORKUP_RABBITMQ_PORT"

  rabbitmq_write_config
  start_detached "$pid_file" "$LOG_DIR/rabbitmq.out" "$RABBITMQ_BIN/rabbitmq-server"

  wait_until 120 probe rabbitmq ||
    fail rabbitmq "broker accepts no AMQP connection" "$LOG_DIR/rabbitmq.log"
  say rabbitmq "ready on 127.0.0.1:$WORKUP_RABBITMQ_PORT"
}

rabbitmq_status() {
  rabbitmq_env
  if probe rabbitmq >/dev/null 2>&1; then
    say rabbitmq "answering on 127.0.0.1:$WORKUP_RABBITMQ_PORT"
  else
    say rabbitmq "not running"
    return 1
  fi
}

rabbitmq_stop() {
  rabbitmq_env
  local pid_file=$RUN_DIR/rabbitmq_launcher.pid
  pid_alive "$pid_file" || { say rabbitmq "not running"; return 0; }
  "$RABBITMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" shutdown >/dev/null 2>&1
  stop_pid "$pid_file" 30
  # The node's port mapper outlives it; end it once no node is registered.
  epmd -kill >/dev/null 2>&1
  say rabbitmq "stopped"
}
