"""The platform under test: real edge and users service processes on the stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RUN_ID
from tests.e2e.platform import Platform, make_platform, remove_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    log_dir: Path = tmp_path_factory.mktemp("platform-logs")
    platform = make_platform(RUN_ID, log_dir)
    try:
        platform.spawn_service("svc_users", "queue_users")
        platform.spawn_edge()
        yield platform
    finally:
        remove_platform(platform)


@pytest.fixture
def http(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=15) as client:
        yield client
