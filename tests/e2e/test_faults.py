"""The path under faults: no consumer, slow handlers, killed instances, admin changes.

Each test starts the extra processes it needs on the run's own vhost, and
stops them again, so the shared `platform` keeps one users instance and one
edge for the other tests.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from common import connections
from tests.e2e.platform import Instance, Platform, free_port, wait_for
from workup_pb import admin_pb2

pytestmark = pytest.mark.integration

SLOW_PING = """
import time
from pathlib import Path

from workup_pb.users_pb2 import PingResponse

VERSION = "slow"
MARKS = Path({marks!r})


def handle(context, request):
    with MARKS.open("a") as marks:
        marks.write(request.echo + "\\n")
    time.sleep({delay_s})
    return PingResponse(echo=request.echo)
"""


@pytest.fixture
def users(platform: Platform) -> Iterator[Instance]:
    """An extra users instance this test may freeze, change or kill."""
    instance = platform.spawn_service("svc_users", "queue_users")
    yield instance
    if instance.process.poll() is None:
        instance.process.send_signal(signal.SIGTERM)
        instance.process.wait(timeout=30)


def test_a_command_nobody_consumes_gets_503_at_once(
    platform: Platform, http: httpx.Client
) -> None:
    # Frozen instances stop consuming, so nobody takes jobs commands now.
    jobs = platform.instances_of("svc_jobs")
    for instance in jobs:
        instance.admin().Freeze(admin_pb2.FreezeRequest())
    wait_for(lambda: platform.consumer_count("queue_jobs") == 0, 10, "no consumer")
    try:
        started = time.monotonic()
        response = http.get(
            "/api/v1/jobs/search", params={"query": "x", "pageLimit": 2}
        )
        elapsed_s = time.monotonic() - started
    finally:
        for instance in jobs:
            instance.admin().Start(admin_pb2.StartRequest())

    assert response.status_code == 503
    assert response.json()["statusCode"] == "SERVICE_UNAVAILABLE"
    assert elapsed_s < 1.0


def test_a_handler_slower_than_the_deadline_gives_504_and_expired_work_is_skipped(
    platform: Platform, tmp_path: Path
) -> None:
    # The other instances are frozen, so only the slow one takes pings.
    marks = tmp_path / "marks.txt"
    module = tmp_path / "slow_ping.py"
    module.write_text(SLOW_PING.format(marks=str(marks), delay_s=2.0))
    slow = platform.spawn_service("svc_users", "queue_users", WORKUP_MAX_THREADS="1")
    others = [i for i in platform.instances_of("svc_users") if i is not slow]
    edge_url = platform.spawn_edge(
        WORKUP_RPC_TIMEOUT_S="1", WORKUP_EDGE_PORT=str(free_port())
    )
    try:
        for other in others:
            other.admin().Freeze(admin_pb2.FreezeRequest())
        slow.admin().UpdateCommand(
            admin_pb2.UpdateCommandRequest(name="Ping", module=str(module))
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(
                pool.map(
                    lambda echo: httpx.get(
                        f"{edge_url}/api/v1/ping",
                        params={"echo": echo},
                        timeout=10,
                    ),
                    ["first", "second"],
                )
            )
        wait_for(lambda: _idle(slow), 15, "the slow instance to finish")
    finally:
        for other in others:
            other.admin().Start(admin_pb2.StartRequest())
        slow.process.send_signal(signal.SIGTERM)
        slow.process.wait(timeout=30)

    assert [response.status_code for response in responses] == [504, 504]
    assert responses[0].json()["statusCode"] == "GATEWAY_TIMEOUT"
    # One ran past its 1 s deadline; the other waited behind it for the only
    # worker, was due before the worker was free, and never ran.
    assert len(marks.read_text().split()) == 1


def test_a_killed_instance_loses_no_registration_and_duplicates_none(
    platform: Platform, http: httpx.Client
) -> None:
    victim = platform.spawn_service("svc_users", "queue_users")
    others = [i for i in platform.instances_of("svc_users") if i is not victim]
    emails = [f"kill-{uuid.uuid4().hex[:10]}@example.com" for _ in range(24)]
    for other in others:
        other.admin().Freeze(admin_pb2.FreezeRequest())

    def register(email: str) -> int:
        response = http.post(
            "/api/v1/users/clients/register",
            json={"email": email, "password": "pw-123456", "clientName": "K"},
        )
        return response.status_code

    try:
        with ThreadPoolExecutor(max_workers=len(emails)) as pool:
            statuses = pool.map(register, emails)
            # Kill the only consuming instance while it holds work in flight;
            # the survivors take the redelivered messages once unfrozen.
            wait_for(lambda: _accounts(platform, emails) >= 3, 30, "first writes")
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)
            for other in others:
                other.admin().Start(admin_pb2.StartRequest())
            results = list(statuses)
    finally:
        for other in others:
            other.admin().Start(admin_pb2.StartRequest())

    assert Counter(results) == {200: len(emails)}
    assert _accounts(platform, emails) == len(emails)
    for email in emails:
        assert _accounts(platform, [email]) == 1


def test_admin_changes_apply_while_requests_flow(
    platform: Platform, users: Instance
) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def ping_until_stopped() -> None:
        with httpx.Client(base_url=platform.base_url, timeout=10) as client:
            while not stop.is_set():
                statuses.append(client.get("/api/v1/ping").status_code)

    pinger = threading.Thread(target=ping_until_stopped)
    pinger.start()
    admin = users.admin()
    try:
        resized = admin.SetMaxThreads(admin_pb2.SetMaxThreadsRequest(count=2))
        admin.Freeze(admin_pb2.FreezeRequest())
        frozen = admin.GetStatus(admin_pb2.GetStatusRequest())
        admin.Start(admin_pb2.StartRequest())
        running = admin.GetStatus(admin_pb2.GetStatusRequest())
        count_before_delete = len(statuses)
        wait_for(lambda: len(statuses) > count_before_delete + 20, 20, "pings")
    finally:
        stop.set()
        pinger.join(timeout=20)

    assert resized.max_threads == 2
    assert frozen.state != running.state
    assert statuses
    assert set(statuses) == {200}


def test_a_deleted_command_answers_501_until_added_back(
    platform: Platform, http: httpx.Client
) -> None:
    instances = platform.instances_of("svc_users")
    for instance in instances:
        instance.admin().DeleteCommand(admin_pb2.DeleteCommandRequest(name="Ping"))
    try:
        deleted = http.get("/api/v1/ping")
    finally:
        for instance in instances:
            instance.admin().AddCommand(admin_pb2.AddCommandRequest(name="Ping"))
    added = http.get("/api/v1/ping", params={"echo": "back"})

    assert deleted.status_code == 501
    assert deleted.json()["errorMessage"] == "Not Implemented."
    assert added.status_code == 200
    assert added.json()["echo"] == "back"


def _idle(instance: Instance) -> bool:
    status = instance.admin().GetStatus(admin_pb2.GetStatusRequest())
    return bool(status.in_flight == 0 and status.handled_total >= 1)


def _accounts(platform: Platform, emails: list[str]) -> int:
    client = connections.connect_mongo(platform.settings())
    try:
        database = client[platform.env["WORKUP_MONGO_DATABASE"]]
        return database["client"].count_documents({"email": {"$in": emails}})
    finally:
        client.close()
