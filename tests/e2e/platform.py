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

import httpx

from common import connections
from common.config import Settings

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
class Platform:
    """The processes of one test run and the environment they share."""

    run_id: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

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

    def spawn_service(self, module: str, queue: str) -> subprocess.Popen[bytes]:
        """Starts one more service instance and waits until it consumes."""
        before = self.consumer_count(queue)
        process = self.spawn(module, WORKUP_ADMIN_PORT=str(free_port()))
        wait_for(
            lambda: process.poll() is None and self.consumer_count(queue) > before,
            READY_TIMEOUT_S,
            f"{module} to consume {queue}",
        )
        return process

    def spawn_edge(self) -> subprocess.Popen[bytes]:
        process = self.spawn("edge")
        wait_for(self.edge_ready, READY_TIMEOUT_S, "the edge to be ready")
        return process

    def edge_ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

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
        "WORKUP_REDIS_URL": base.redis_url.rsplit("/", 1)[0] + "/15",
        "WORKUP_EDGE_PORT": str(free_port()),
        "WORKUP_ADMIN_PORT": str(free_port()),
        "WORKUP_JWT_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
        "WORKUP_ADMIN_EMAIL": "admin.@workup.com",
        "WORKUP_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "WORKUP_ADMIN_TOKEN": secrets.token_urlsafe(16),
        "WORKUP_LOG_LEVEL": "INFO",
    }
    return platform


def remove_platform(platform: Platform) -> None:
    platform.stop_all()
    rabbitmqctl("delete_vhost", platform.vhost)
    client = connections.connect_mongo(platform.settings())
    client.drop_database(platform.env["WORKUP_MONGO_DATABASE"])
    client.close()
