#!/usr/bin/env bash
# The WorkUp processes themselves, on top of the local stack: the HTTP edge
# and one instance of each service, run from the project's virtualenv with
# their logs under .state/log and pid files under .state/run.
#
#   stack/platform.sh start    start what is not running, wait until it serves
#   stack/platform.sh status
#   stack/platform.sh stop     stop gracefully (in-flight work finishes)
#
# Secrets for local runs (JWT key, administrator password, admin-port token)
# are generated once into .state/secrets.env; a deployment sets the same
# variables itself.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"
source "$here/lib.sh"

: "${WORKUP_EDGE_PORT:=8080}"
export WORKUP_EDGE_PORT

#: Each entry is "name:python module:work queue". The edge has no queue.
#: A service whose package is not in the tree yet is skipped.
SERVICES=(
  "users:svc_users:queue_users"
  "jobs:svc_jobs:queue_jobs"
  "contracts:svc_contracts:queue_contracts"
  "payments:svc_payments:queue_payments"
)

write_secrets_once() {
  local file=$WORKUP_STATE_DIR/secrets.env
  [[ -f $file ]] || {
    umask 077
    cat >"$file" <<SECRETS
WORKUP_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
WORKUP_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
WORKUP_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
SECRETS
  }
  set -a
  source "$file"
  set +a
}

start_service() {
  local name=$1 module=$2 queue=$3 pid_file=$RUN_DIR/$1.pid
  if pid_alive "$pid_file"; then
    say "$name" "already running"
    return 0
  fi
  start_detached "$pid_file" "$LOG_DIR/$name.log" "$WORKUP_PYTHON" -m "$module"
  wait_until 60 "$WORKUP_PYTHON" "$here/probe.py" queue "$queue" ||
    fail "$name" "no instance consumes $queue after 60 s" "$LOG_DIR/$name.log"
  say "$name" "consuming $queue"
}

edge_ready() {
  "$WORKUP_PYTHON" "$here/probe.py" http "http://127.0.0.1:$WORKUP_EDGE_PORT/readyz"
}

start_edge() {
  local pid_file=$RUN_DIR/edge.pid
  if pid_alive "$pid_file"; then
    say edge "already running on http://127.0.0.1:$WORKUP_EDGE_PORT"
    return 0
  fi
  require_free_port edge "$WORKUP_EDGE_PORT"
  start_detached "$pid_file" "$LOG_DIR/edge.log" "$WORKUP_PYTHON" -m edge
  wait_until 60 edge_ready || fail edge "not ready after 60 s" "$LOG_DIR/edge.log"
  say edge "ready on http://127.0.0.1:$WORKUP_EDGE_PORT"
}

main() {
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  write_secrets_once
  local entry
  case ${1:-} in
    start)
      for entry in "${SERVICES[@]}"; do
        IFS=: read -r name module queue <<<"$entry"
        [[ -d $WORKUP_ROOT/$module ]] || continue
        start_service "$name" "$module" "$queue"
      done
      start_edge
      ;;
    status)
      for entry in edge "${SERVICES[@]}"; do
        name=${entry%%:*}
        if pid_alive "$RUN_DIR/$name.pid"; then say "$name" "running"; else say "$name" "not running"; fi
      done
      ;;
    stop)
      for entry in edge "${SERVICES[@]}"; do
        name=${entry%%:*}
        pid_alive "$RUN_DIR/$name.pid" || continue
        stop_pid "$RUN_DIR/$name.pid" 30
        say "$name" "stopped"
      done
      ;;
    *)
      sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//' >&2
      return 2
      ;;
  esac
}

main "$@"
