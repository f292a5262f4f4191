"""Schema migrations: numbered SQL files applied once each, at start-up.

`migrations/NNN_name.sql` files run in version order, each in its own
transaction together with its row in `schema_migrations`, so a migration is
either fully applied and recorded or not at all. Instances that start at the
same time queue on a PostgreSQL advisory lock: the first applies, the others
find the work recorded. Editing a migration after it was applied is refused
(its checksum no longer matches), because the database would silently differ
from the file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from common.connections import CONNECT_TIMEOUT_S

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Advisory lock key of the payments schema ("payments" in ASCII).
LOCK_KEY = 0x7061796D656E7473
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """Raised when the migration files and the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, oldest first.

    Raises:
        MigrationError: a .sql file is misnamed or two share a version.
    """
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name} is not named NNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"Two migrations have version {version:03d}")
        migrations[version] = Migration(version, match.group(2), path.read_bytes())
    return [migrations[version] for version in sorted(migrations)]


def apply_migrations(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Applies the migrations the database lacks; returns their versions.

    Raises:
        MigrationError: an applied migration's file has changed.
        psycopg.OperationalError: the database cannot be reached.
    """
    migrations = load_migrations(directory)
    with psycopg.connect(
        conninfo, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)
    ) as conn:
        # A session lock, so it spans the per-migration transactions; it is
        # released with the connection even if this process dies.
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            return _apply_missing(conn, migrations)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _apply_missing(conn: psycopg.Connection, migrations: list[Migration]) -> list[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " checksum TEXT NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
    )
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    applied: dict[int, str] = dict(rows)
    newly_applied: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            _check_unchanged(migration, applied[migration.version])
            continue
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum)"
                " VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        logger.info(
            "Applied a schema migration.",
            extra={"version": migration.version, "migration": migration.name},
        )
        newly_applied.append(migration.version)
    return newly_applied


def _check_unchanged(migration: Migration, recorded_checksum: str) -> None:
    if migration.checksum != recorded_checksum:
        raise MigrationError(
            f"Migration {migration.version:03d}_{migration.name} was edited after "
            "it was applied; add a new migration instead."
        )
