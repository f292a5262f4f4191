"""Fixtures shared by every test: settings and isolated places on the real stack.

Each test run gets its own Cassandra keyspace, PostgreSQL database and MongoDB
database (schema changes are slow in Cassandra, so the keyspace is per run,
not per test); tests inside a run keep apart by random ids.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from cassandra.cluster import Session
from pymongo.database import Database

from common import connections
from common.config import Settings

RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def cassandra_keyspace(settings: Settings) -> Iterator[tuple[Session, str]]:
    """A keyspace made for this test run, dropped at its end."""
    cluster = connections.cassandra_cluster(settings)
    session = cluster.connect()
    keyspace = f"test_{RUN_ID}"
    session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    yield session, keyspace
    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    cluster.shutdown()


@pytest.fixture(scope="session")
def postgres_database(settings: Settings) -> Iterator[str]:
    """A PostgreSQL database made for this test run, dropped at its end."""
    name = f"test_{RUN_ID}"
    with connections.connect_postgres(settings, "postgres") as admin:
        admin.autocommit = True
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with connections.connect_postgres(settings, "postgres") as admin:
        admin.autocommit = True
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def mongo_database(settings: Settings) -> Iterator[Database[dict[str, object]]]:
    """A MongoDB database made for this test run, dropped at its end."""
    client = connections.connect_mongo(settings)
    database = client[f"test_{RUN_ID}"]
    yield database
    client.drop_database(database.name)
    client.close()


@pytest.fixture(scope="session", autouse=True)
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Uploaded files of this run go to a temporary folder, never the tree."""
    path = str(tmp_path_factory.mktemp("media"))
    previous = os.environ.get("WORKUP_MEDIA_DIR")
    os.environ["WORKUP_MEDIA_DIR"] = path
    yield path
    if previous is None:
        del os.environ["WORKUP_MEDIA_DIR"]
    else:
        os.environ["WORKUP_MEDIA_DIR"] = previous
