#!/usr/bin/env bash
# The local stack: PostgreSQL, Redis, RabbitMQ, Cassandra and FerretDB on
# loopback, with their data under the state directory (stack/env.sh).
#
#   stack/stack.sh start [server ...]   install what is missing, start, wait until each answers
#   stack/stack.sh status [server ...]  ask each server a real question
#   stack/stack.sh stop [server ...]    stop them, leaving no process behind
#   stack/stack.sh install [server ...] only install
#   stack/stack.sh rabbitmqctl ARGS...  run rabbitmqctl against the stack's node
#
# Every command is idempotent: a second start finds the servers running and
# returns in seconds.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"
source "$here/lib.sh"
for server_script in "$here"/servers/*.sh; do
  source "$server_script"
done

# FerretDB stores its data in PostgreSQL, so it starts after it and stops first.
ALL_SERVERS=(postgres redis rabbitmq cassandra ferretdb)

install_servers() {
  for server in "$@"; do
    local started=$SECONDS
    "${server}_install" || fail "$server" "install failed" "$LOG_DIR/install.log"
    say "$server" "installed ($((SECONDS - started)) s)"
  done
}

reverse() {
  local index
  for ((index = $# ; index > 0 ; index--)); do
    echo "${!index}"
  done
}

main() {
  local command=${1:-}
  shift || true
  local servers=("$@")
  ((${#servers[@]})) || servers=("${ALL_SERVERS[@]}")
  mkdir -p "$LOG_DIR" "$RUN_DIR"

  case $command in
    install) install_servers "${servers[@]}" ;;
    start)
      install_servers "${servers[@]}"
      for server in "${servers[@]}"; do "${server}_start"; done
      ;;
    status)
      local status=0
      for server in "${servers[@]}"; do "${server}_status" || status=1; done
      return $status
      ;;
    stop)
      for server in $(reverse "${servers[@]}"); do "${server}_stop"; done
      ;;
    rabbitmqctl)
      rabbitmq_env
      "$RABBITMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "${servers[@]}"
      ;;
    *)
      sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//' >&2
      return 2
      ;;
  esac
}

main "$@"
