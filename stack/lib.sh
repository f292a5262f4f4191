# Helpers shared by the per-server scripts in stack/servers/.

# Prints one progress line for a server: its name, then the message.
say() {
  printf '%-10s %s\n' "$1" "$2"
}

# Stops the whole script with a line that names the server, the reason and
# the log to read.
fail() {
  local server=$1 reason=$2 log=${3:-}
  if [[ -n $log ]]; then
    say "$server" "FAILED: $reason (log: $log)" >&2
  else
    say "$server" "FAILED: $reason" >&2
  fi
  exit 1
}

# Installs Debian packages that are missing; `apt-get update` runs once per
# script run, and only when something has to be installed.
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0

  if [[ -z ${APT_UPDATED:-} ]]; then
    apt-get update -qq >>"$LOG_DIR/install.log" 2>&1 || return 1
    APT_UPDATED=1
  fi
  # policy-rc.d on this kind of machine keeps the packages' own services from
  # starting; the stack runs its own instances under the state directory.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >>"$LOG_DIR/install.log" 2>&1
}

# True when the process whose id is in the pid file is alive.
pid_alive() {
  local pid_file=$1
  [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# True when something listens on the TCP port on loopback.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Refuses to start a server whose port another process already holds.
require_free_port() {
  local server=$1 port=$2
  if port_busy "$port"; then
    fail "$server" "port $port is in use by a process this stack did not start; stop it or set the WORKUP_*_PORT variable"
  fi
}

# Starts a long-running command in its own session, detached from the
# terminal, and records its pid.
start_detached() {
  local pid_file=$1 log_file=$2
  shift 2
  setsid nohup "$@" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
}

# Runs a readiness check again and again until it passes or time runs out.
wait_until() {
  local timeout_s=$1
  shift
  local deadline=$((SECONDS + timeout_s))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# Sends SIGTERM to the process in the pid file and waits for it to exit,
# then SIGKILL if it would not.
stop_pid() {
  local pid_file=$1 timeout_s=${2:-30}
  pid_alive "$pid_file" || { rm -f "$pid_file"; return 0; }
  local pid
  pid=$(cat "$pid_file")
  kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + timeout_s))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pid_file"
}

# Asks a server a real question through its Python driver (stack/probe.py).
probe() {
  "$WORKUP_PYTHON" "$WORKUP_ROOT/stack/probe.py" "$1"
}
