# Cassandra 5.0 from Maven Central: cassandra-all and its dependencies are
# copied into the cache once, then CassandraDaemon runs from those jars on the
# machine's JDK 17 as a single node (stack/cassandra/ holds its config).

cassandra_lib() {
  echo "$WORKUP_CACHE_DIR/cassandra-$CASSANDRA_VERSION/lib"
}

cassandra_install() {
  apt_install maven openjdk-17-jre-headless || return 1
  local lib
  lib=$(cassandra_lib)
  [[ -f $lib/cassandra-all-$CASSANDRA_VERSION.jar ]] && return 0

  mvn -q -B -f "$WORKUP_ROOT/stack/cassandra/pom.xml" \
    -Dcassandra.version="$CASSANDRA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib.partial" \
    >>"$LOG_DIR/install.log" 2>&1 || return 1
  # Renamed only when complete, so an interrupted download is never used.
  rm -rf "$lib" && mv "$lib.partial" "$lib"
}

cassandra_write_config() {
  local state=$1
  mkdir -p "$state/conf"
  sed -e "s|@STATE@|$state|g" \
    -e "s|@STORAGE_PORT@|$WORKUP_CASSANDRA_STORAGE_PORT|g" \
    -e "s|@NATIVE_PORT@|$WORKUP_CASSANDRA_PORT|g" \
    "$WORKUP_ROOT/stack/cassandra/cassandra.yaml" >"$state/conf/cassandra.yaml"
  cp "$WORKUP_ROOT/stack/cassandra/logback.xml" "$state/conf/logback.xml"
}

cassandra_jvm_options() {
  grep -v -e '^#' -e '^$' "$WORKUP_ROOT/stack/cassandra/jvm.options"
}

cassandra_start() {
  local pid_file=$RUN_DIR/cassandra.pid state=$WORKUP_STATE_DIR/cassandra lib
  lib=$(cassandra_lib)
  if pid_alive "$pid_file"; then
    wait_until 180 probe cassandra ||
      fail cassandra "running but answers no CQL query" "$LOG_DIR/cassandra.log"
    say cassandra "already running on 127.0.0.1:$WORKUP_CASSANDRA_PORT"
    return 0
  fi
  require_free_port cassandra "$WORKUP_CASSANDRA_PORT"
  [[ -f $lib/cassandra-all-$CASSANDRA_VERSION.jar ]] ||
    fail cassandra "jars missing from $lib (install step did not finish)" "$LOG_DIR/install.log"

  cassandra_write_config "$state"
  local options
  mapfile -t options < <(cassandra_jvm_options)
  start_detached "$pid_file" "$LOG_DIR/cassandra.out" java \
    "-Xms$WORKUP_CASSANDRA_HEAP" "-Xmx$WORKUP_CASSANDRA_HEAP" "${options[@]}" \
    "-javaagent:$lib/jamm-0.4.0.jar" \
    "-Dcassandra.config=file://$state/conf/cassandra.yaml" \
    "-Dlogback.configurationFile=$state/conf/logback.xml" \
    "-Dcassandra.logdir=$LOG_DIR" \
    "-Dcassandra.storagedir=$state" \
    -Dcassandra-foreground=yes \
    -cp "$state/conf:$lib/*" org.apache.cassandra.service.CassandraDaemon

  wait_until 240 probe cassandra ||
    fail cassandra "node answers no CQL query after 240 s" "$LOG_DIR/cassandra.log"
  say cassandra "ready on 127.0.0.1:$WORKUP_CASSANDRA_PORT"
}

cassandra_status() {
  if probe cassandra >/dev/null 2>&1; then
    say cassandra "answering on 127.0.0.1:$WORKUP_CASSANDRA_PORT"
  else
    say cassandra "not running"
    return 1
  fi
}

cassandra_stop() {
  local pid_file=$RUN_DIR/cassandra.pid
  pid_alive "$pid_file" || { say cassandra "not running"; return 0; }
  # SIGTERM runs Cassandra's shutdown hook, which flushes the commit log.
  stop_pid "$pid_file" 60
  say cassandra "stopped"
}
