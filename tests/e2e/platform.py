"""Runs WorkUp's own processes for end-to-end tests, isolated per test run.

A test run gets its own RabbitMQ virtual host, MongoDB database and Redis
database, and its own secrets and ports, so it never meets a platform that
`scripts/run` left running, nor another test run. Processes are real: the
edge under uvicorn and each service as `python -m svc_<name>`.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx

from common import connections
from common.config import Settings
from workup_pb import admin_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
#: Seconds a process gets to become ready before the fixture gives up.
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rabbitmqctl(*args: str) -> None:
    subprocess.run(
        [str(ROOT / "stack" / "stack.sh"), "rabbitmqctl", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Polls `condition` until it holds; fails the test with `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


@dataclass
class Instance:
    """One running service process and a client for its admin port."""

    process: subprocess.Popen[bytes]
    admin_port: int
    admin_token: str
    module: str

    def admin(self) -> AdminClient:
        return AdminClient(f"127.0.0.1:{self.admin_port}", self.admin_token)


class AdminClient:
    """Calls an instance's gRPC admin API with its bearer token."""

    def __init__(self, target: str, token: str) -> None:
        self._channel = grpc.insecure_channel(target)
        self._stub = admin_pb2_grpc.AdminStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __getattr__(self, rpc: str) -> Callable[[Any], Any]:
        method = getattr(self._stub, rpc)
        return lambda request: method(request, metadata=self._metadata, timeout=40)

    def close(self) -> None:
        self._channel.close()


@dataclass
class Platform:
    """The processes of one test run and the environment they share."""

    run_id: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    service_instances: list[Instance] = field(default_factory=list)

    @property
    def instances(self) -> list[Instance]:
        """The service instances started so far that are still running."""
        return [i for i in self.service_instances if i.process.poll() is None]

    def instances_of(self, module: str) -> list[Instance]:
        """The running instances of one service package, e.g. "svc_users"."""
        return [i for i in self.instances if i.module == module]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WORKUP_EDGE_PORT']}"

    @property
    def vhost(self) -> str:
        return f"test_{self.run_id}"

    def settings(self) -> Settings:
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return Settings.from_env()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def spawn(self, module: str, **extra_env: str) -> subprocess.Popen[bytes]:
        """Starts `python -m module` with this run's environment."""
        env = {**os.environ, **self.env, **extra_env}
        log_path = self.log_dir / f"{module}-{len(self.processes)}.log"
        # The child keeps its own copy of the descriptor; ours can close.
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", module],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def spawn_service(self, module: str, queue: str, **extra_env: str) -> Instance:
        """Starts one more service instance and waits until it consumes."""
        before = self.consumer_count(queue)
        admin_port = free_port()
        process = self.spawn(module, WORKUP_ADMIN_PORT=str(admin_port), **extra_env)
        wait_for(
            lambda: process.poll() is None and self.consumer_count(queue) > before,
            READY_TIMEOUT_S,
            f"{module} to consume {queue}",
        )
        instance = Instance(process, admin_port, self.env["WORKUP_ADMIN_TOKEN"], module)
        self.service_instances.append(instance)
        return instance

    def spawn_edge(self, **extra_env: str) -> str:
        """Starts an edge (the run's main one without `WORKUP_EDGE_PORT` in
        `extra_env`) and returns its base URL once it is ready."""
        port = extra_env.setdefault("WORKUP_EDGE_PORT", self.env["WORKUP_EDGE_PORT"])
        base_url = f"http://127.0.0.1:{port}"
        self.spawn("edge", **extra_env)
        wait_for(lambda: edge_ready(base_url), READY_TIMEOUT_S, "the edge to be ready")
        return base_url

    def consumer_count(self, queue: str) -> int:
        connection = connections.connect_amqp(self.settings())
        try:
            channel = connection.channel()
            declared = channel.queue_declare(queue=queue, passive=True)
            return int(declared.method.consumer_count)
        except Exception:  # noqa: BLE001 - a missing queue has no consumer
            return 0
        finally:
            if connection.is_open:
                connection.close()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def edge_ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def make_platform(run_id: str, log_dir: Path) -> Platform:
    """Creates the run's vhost and environment; processes start on demand."""
    platform = Platform(run_id=run_id, log_dir=log_dir)
    rabbitmqctl("add_vhost", platform.vhost)
    rabbitmqctl("set_permissions", "-p", platform.vhost, "guest", ".*", ".*", ".*")
    base = Settings.from_env()
    amqp_root = base.amqp_url.rsplit("/", 1)[0]
    platform.env = {
        "WORKUP_AMQP_URL": f"{amqp_root}/{platform.vhost}",
        "WORKUP_MONGO_DATABASE": f"test_{run_id}_users",
        "WORKUP_POSTGRES_DATABASE": f"test_{run_id}_payments",
        "WORKUP_JOBS_KEYSPACE": f"test_{run_id}_jobs",
        "WORKUP_CONTRACTS_KEYSPACE": f"test_{run_id}_contracts",
        "WORKUP_REDIS_URL": base.redis_url.rsplit("/", 1)[0] + "/15",
        "WORKUP_EDGE_PORT": str(free_port()),
        "WORKUP_ADMIN_PORT": str(free_port()),
        "WORKUP_JWT_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
        "WORKUP_ADMIN_EMAIL": "admin.@workup.com",
        "WORKUP_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "WORKUP_ADMIN_TOKEN": secrets.token_urlsafe(16),
        "WORKUP_LOG_LEVEL": "INFO",
        "WORKUP_MEDIA_DIR": str(log_dir / "media"),
    }
    with connections.connect_postgres(base, "postgres") as admin:
        admin.autocommit = True
        admin.execute(f"CREATE DATABASE {platform.env['WORKUP_POSTGRES_DATABASE']}")
    return platform


def remove_platform(platform: Platform) -> None:
    """Stops the run's processes and drops everything the run created."""
    platform.stop_all()
    rabbitmqctl("delete_vhost", platform.vhost)
    settings = platform.settings()
    client = connections.connect_mongo(settings)
    client.drop_database(platform.env["WORKUP_MONGO_DATABASE"])
    client.close()
    with connections.connect_postgres(settings, "postgres") as admin:
        admin.autocommit = True
        database = platform.env["WORKUP_POSTGRES_DATABASE"]
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    cluster = connections.cassandra_cluster(settings)
    try:
        session = cluster.connect()
        for variable in ("WORKUP_JOBS_KEYSPACE", "WORKUP_CONTRACTS_KEYSPACE"):
            session.execute(f"DROP KEYSPACE IF EXISTS {platform.env[variable]}")
    finally:
        cluster.shutdown()
