"""Settings read from the environment, with defaults that match the local stack.

stack/env.sh gives the servers the same WORKUP_* variables, so a process
started by hand next to `scripts/run` finds every server without any setup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class PostgresSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "workup"
    password: str = "workup"  # noqa: S105 - local stack default, see stack/env.sh
    database: str = "workup"

    def conninfo(self, database: str | None = None) -> str:
        """A libpq connection string for this server and the given database."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={database or self.database}"
        )


@dataclass(frozen=True)
class Settings:
    """Where every server of the stack is. Build it with `Settings.from_env()`."""

    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    redis_url: str = "redis://127.0.0.1:6379/0"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    cassandra_hosts: tuple[str, ...] = ("127.0.0.1",)
    cassandra_port: int = 9042
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    #: The users service's database (API.md calls it `mydatabase`).
    mongo_database: str = "workup_users"
    #: The Cassandra keyspaces of the jobs and contracts services.
    jobs_keyspace: str = "jobs_data"
    contracts_keyspace: str = "contracts_data"

    @classmethod
    def from_env(cls) -> Settings:
        postgres = PostgresSettings(
            host=_env("WORKUP_POSTGRES_HOST", "127.0.0.1"),
            port=_env_int("WORKUP_POSTGRES_PORT", 5432),
            user=_env("WORKUP_POSTGRES_USER", "workup"),
            password=_env("WORKUP_POSTGRES_PASSWORD", "workup"),
            database=_env("WORKUP_POSTGRES_DATABASE", "workup"),
        )
        redis_port = _env_int("WORKUP_REDIS_PORT", 6379)
        amqp_port = _env_int("WORKUP_RABBITMQ_PORT", 5672)
        mongo_port = _env_int("WORKUP_MONGO_PORT", 27017)
        return cls(
            postgres=postgres,
            redis_url=_env("WORKUP_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0"),
            amqp_url=_env(
                "WORKUP_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{amqp_port}/%2F"
            ),
            cassandra_hosts=tuple(
                _env("WORKUP_CASSANDRA_HOSTS", "127.0.0.1").split(",")
            ),
            cassandra_port=_env_int("WORKUP_CASSANDRA_PORT", 9042),
            mongo_url=_env("WORKUP_MONGO_URL", f"mongodb://127.0.0.1:{mongo_port}/"),
            mongo_database=_env("WORKUP_MONGO_DATABASE", "workup_users"),
            jobs_keyspace=_env("WORKUP_JOBS_KEYSPACE", "jobs_data"),
            contracts_keyspace=_env("WORKUP_CONTRACTS_KEYSPACE", "contracts_data"),
        )
