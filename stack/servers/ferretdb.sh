# FerretDB 1.24 from the Go module proxy: the MongoDB wire protocol for the
# users service, storing its collections in the local PostgreSQL. It is built
# once into the cache from stack/ferretdb (see main.go there for why).

ferretdb_binary() {
  echo "$WORKUP_CACHE_DIR/bin/ferretdb-$FERRETDB_VERSION"
}

ferretdb_install() {
  local binary
  binary=$(ferretdb_binary)
  [[ -x $binary ]] && return 0
  command -v go >/dev/null || apt_install golang-go || return 1

  mkdir -p "$(dirname "$binary")"
  (cd "$WORKUP_ROOT/stack/ferretdb" && go build -o "$binary.partial" .) \
    >>"$LOG_DIR/install.log" 2>&1 || return 1
  mv "$binary.partial" "$binary"
}

ferretdb_start() {
  local pid_file=$RUN_DIR/ferretdb.pid
  if pid_alive "$pid_file"; then
    say ferretdb "already running on 127.0.0.1:$WORKUP_MONGO_PORT"
    return 0
  fi
  require_free_port ferretdb "$WORKUP_MONGO_PORT"

  local backend="postgres://$WORKUP_POSTGRES_USER:$WORKUP_POSTGRES_PASSWORD@127.0.0.1:$WORKUP_POSTGRES_PORT/ferretdb"
  start_detached "$pid_file" "$LOG_DIR/ferretdb.log" "$(ferretdb_binary)" \
    --listen-addr="127.0.0.1:$WORKUP_MONGO_PORT" --postgresql-url="$backend"

  wait_until 60 probe ferretdb ||
    fail ferretdb "server answers no MongoDB command" "$LOG_DIR/ferretdb.log"
  say ferretdb "ready on 127.0.0.1:$WORKUP_MONGO_PORT"
}

ferretdb_status() {
  if probe ferretdb >/dev/null 2>&1; then
    say ferretdb "answering on 127.0.0.1:$WORKUP_MONGO_PORT"
  else
    say ferretdb "not running"
    return 1
  fi
}

ferretdb_stop() {
  local pid_file=$RUN_DIR/ferretdb.pid
  pid_alive "$pid_file" || { say ferretdb "not running"; return 0; }
  stop_pid "$pid_file" 15
  say ferretdb "stopped"
}
