# PostgreSQL from Debian's packages: the payments database, and the backend
# FerretDB stores its MongoDB collections in.

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

postgres_install() {
  apt_install postgresql postgresql-client
}

postgres_psql() {
  PGPASSWORD=$WORKUP_POSTGRES_PASSWORD psql -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$WORKUP_POSTGRES_PORT" -U "$WORKUP_POSTGRES_USER" "$@"
}

# The server refuses to run as root, so its data directory belongs to the
# postgres user that Debian's package creates.
postgres_init() {
  local data=$1 bin=$2
  [[ -f $data/PG_VERSION ]] && return 0

  install -d -o postgres -g postgres -m 700 "$data"
  local password_file
  password_file=$(mktemp)
  printf '%s\n' "$WORKUP_POSTGRES_PASSWORD" >"$password_file"
  chown postgres "$password_file"
  runuser -u postgres -- "$bin/initdb" -D "$data" -U "$WORKUP_POSTGRES_USER" \
    --pwfile="$password_file" --auth=scram-sha-256 -E UTF8 --no-locale \
    >>"$LOG_DIR/postgres.log" 2>&1
  local status=$?
  rm -f "$password_file"
  return $status
}

postgres_start() {
  local data=$WORKUP_STATE_DIR/postgres bin sockets=$RUN_DIR/postgres
  bin=$(postgres_bin)
  [[ -n $bin ]] || fail postgres "no server binaries under /usr/lib/postgresql"

  if runuser -u postgres -- "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say postgres "already running on 127.0.0.1:$WORKUP_POSTGRES_PORT"
    return 0
  fi
  require_free_port postgres "$WORKUP_POSTGRES_PORT"

  postgres_init "$data" "$bin" || fail postgres "initdb failed" "$LOG_DIR/postgres.log"
  install -d -o postgres -g postgres -m 755 "$sockets"
  touch "$LOG_DIR/postgres.log" && chown postgres "$LOG_DIR/postgres.log"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$LOG_DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $WORKUP_POSTGRES_PORT -k $sockets -c max_connections=300" \
    start >/dev/null || fail postgres "pg_ctl start failed" "$LOG_DIR/postgres.log"

  wait_until 60 postgres_psql -d postgres -c 'SELECT 1' ||
    fail postgres "server started but answers no query" "$LOG_DIR/postgres.log"
  postgres_create_database workup
  postgres_create_database ferretdb
  say postgres "ready on 127.0.0.1:$WORKUP_POSTGRES_PORT"
}

postgres_create_database() {
  local name=$1
  local exists
  exists=$(postgres_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")
  [[ $exists == 1 ]] || postgres_psql -d postgres -c "CREATE DATABASE $name" ||
    fail postgres "could not create database $name" "$LOG_DIR/postgres.log"
}

postgres_status() {
  if postgres_psql -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    say postgres "answering on 127.0.0.1:$WORKUP_POSTGRES_PORT"
  else
    say postgres "not running"
    return 1
  fi
}

postgres_stop() {
  local data=$WORKUP_STATE_DIR/postgres bin
  bin=$(postgres_bin)
  [[ -n $bin && -f $data/postmaster.pid ]] || { say postgres "not running"; return 0; }
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
  say postgres "stopped"
}
