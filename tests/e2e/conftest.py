"""The platform under test: real edge and users service processes on the stack."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RUN_ID
from tests.e2e.platform import Platform, make_platform, remove_platform

#: Every service of the platform and its work queue; one instance of each
#: that exists in the tree runs for the whole test session.
SERVICES = [
    ("svc_users", "queue_users"),
    ("svc_jobs", "queue_jobs"),
    ("svc_contracts", "queue_contracts"),
    ("svc_payments", "queue_payments"),
]


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    log_dir: Path = tmp_path_factory.mktemp("platform-logs")
    platform = make_platform(RUN_ID, log_dir)
    try:
        for module, queue in SERVICES:
            if importlib.util.find_spec(module) is not None:
                platform.spawn_service(module, queue)
        platform.spawn_edge()
        yield platform
    finally:
        remove_platform(platform)


@pytest.fixture
def http(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=15) as client:
        yield client
