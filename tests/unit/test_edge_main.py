"""The edge process: settings from the environment, start-up and shutdown."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import ClassVar

import pytest
import uvicorn
from starlette.applications import Starlette

import common.bus
import edge.main
from edge.settings import EdgeSettings

SECRET = base64.b64encode(bytes(range(32))).decode()
EDGE_VARIABLES = (
    "WORKUP_JWT_SECRET",
    "WORKUP_DEV_MODE",
    "WORKUP_EDGE_HOST",
    "WORKUP_EDGE_PORT",
    "WORKUP_MAX_BODY_BYTES",
    "WORKUP_RPC_TIMEOUT_S",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EDGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_only_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKUP_JWT_SECRET", SECRET)

    settings = EdgeSettings.from_env()

    assert settings.jwt_key == bytes(range(32))
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.rpc_timeout_s == 10.0
    assert settings.amqp_url.startswith("amqp://")


def test_every_setting_comes_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKUP_JWT_SECRET", SECRET)
    monkeypatch.setenv("WORKUP_EDGE_HOST", "0.0.0.0")
    monkeypatch.setenv("WORKUP_EDGE_PORT", "9000")
    monkeypatch.setenv("WORKUP_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("WORKUP_RPC_TIMEOUT_S", "0.5")

    settings = EdgeSettings.from_env()

    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert (settings.max_body_bytes, settings.rpc_timeout_s) == (2048, 0.5)


def test_the_key_never_shows_in_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKUP_JWT_SECRET", SECRET)

    assert "jwt_key" not in repr(EdgeSettings.from_env())


def test_dev_mode_runs_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKUP_DEV_MODE", "1")

    assert len(EdgeSettings.from_env().jwt_key) == 32


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("WORKUP_JWT_SECRET", "", "WORKUP_JWT_SECRET is required"),
        ("WORKUP_EDGE_PORT", "http", "WORKUP_EDGE_PORT must be an integer"),
        ("WORKUP_MAX_BODY_BYTES", "0", "WORKUP_MAX_BODY_BYTES must be above zero"),
        ("WORKUP_RPC_TIMEOUT_S", "soon", "WORKUP_RPC_TIMEOUT_S must be a number"),
        ("WORKUP_RPC_TIMEOUT_S", "inf", "WORKUP_RPC_TIMEOUT_S must be a finite"),
    ],
)
def test_a_bad_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv("WORKUP_JWT_SECRET", SECRET)
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=problem):
        EdgeSettings.from_env()


class FakeRpcClient:
    """Stands in for common.bus.RpcClient; records its lifecycle."""

    events: ClassVar[list[str]] = []

    def __init__(self, amqp_url: str, *, name: str = "rpc") -> None:
        self.events.append(f"init {name}")
        self.connected = True

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


def test_main_starts_the_client_serves_and_stops_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: dict[str, object] = {}

    def fake_run(app: Starlette, **options: object) -> None:
        FakeRpcClient.events.append("serve")
        served.update(options)

    monkeypatch.setenv("WORKUP_JWT_SECRET", SECRET)
    monkeypatch.setenv("WORKUP_EDGE_PORT", "8123")
    monkeypatch.setattr(edge.main, "configure_logging", lambda service: None)
    monkeypatch.setattr(common.bus, "RpcClient", FakeRpcClient)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    FakeRpcClient.events = []

    edge.main.main()

    assert FakeRpcClient.events == ["init edge-rpc", "start", "serve", "stop"]
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert served["log_config"] is None
    assert served["access_log"] is False


def test_python_dash_m_edge_refuses_to_start_without_a_secret() -> None:
    environment = {
        key: value for key, value in os.environ.items() if key not in EDGE_VARIABLES
    }

    finished = subprocess.run(
        [sys.executable, "-m", "edge"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == edge.main.EXIT_CONFIG
    (line,) = finished.stderr.splitlines()
    record = json.loads(line)
    assert record["level"] == "CRITICAL"
    assert "WORKUP_JWT_SECRET is required" in record["msg"]
