# Settings of the local stack, shared by every stack script.
# Each value can be overridden from the environment; the Python side reads
# the same WORKUP_* variables (common/config.py), so both always agree.

WORKUP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

#: Where the servers keep their data, logs, sockets and pid files.
: "${WORKUP_STATE_DIR:=$WORKUP_ROOT/.state}"
#: Downloads and builds that outlive a clone (Cassandra jars, FerretDB binary).
: "${WORKUP_CACHE_DIR:=$HOME/.cache/workup}"
#: The Python interpreter of the project's virtualenv (made by scripts/setup).
: "${WORKUP_PYTHON:=$WORKUP_ROOT/.venv/bin/python}"

: "${WORKUP_POSTGRES_PORT:=5432}"
: "${WORKUP_POSTGRES_USER:=workup}"
: "${WORKUP_POSTGRES_PASSWORD:=workup}"
: "${WORKUP_REDIS_PORT:=6379}"
: "${WORKUP_RABBITMQ_PORT:=5672}"
: "${WORKUP_CASSANDRA_PORT:=9042}"
#: Cassandra's node-to-node port; a single node still listens on it.
: "${WORKUP_CASSANDRA_STORAGE_PORT:=7000}"
#: Cassandra's JVM heap: enough for tests, small enough to leave room for the
#: other four servers and the services on a 2-core, 24 GiB machine.
: "${WORKUP_CASSANDRA_HEAP:=1G}"
: "${WORKUP_MONGO_PORT:=27017}"

CASSANDRA_VERSION=5.0.9
FERRETDB_VERSION=v1.24.2

LOG_DIR=$WORKUP_STATE_DIR/log
RUN_DIR=$WORKUP_STATE_DIR/run

# stack/probe.py imports the project's own connection code.
export PYTHONPATH=$WORKUP_ROOT${PYTHONPATH:+:$PYTHONPATH}
export WORKUP_ROOT WORKUP_STATE_DIR WORKUP_CACHE_DIR WORKUP_PYTHON
export WORKUP_POSTGRES_PORT WORKUP_POSTGRES_USER WORKUP_POSTGRES_PASSWORD
export WORKUP_REDIS_PORT WORKUP_RABBITMQ_PORT WORKUP_CASSANDRA_PORT WORKUP_CASSANDRA_STORAGE_PORT
export WORKUP_MONGO_PORT
