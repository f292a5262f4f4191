"""The service runtime against the real broker and Redis of the local stack.

Each test runs a tiny Echo service in a ServiceRuntime on a thread, with its
own queue, service name (and so Redis key prefix) and admin token, and talks
to it the way the edge does: envelopes over plain pika with reply_to on an
exclusive queue, and the admin port over gRPC.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import socket
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pika
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common import connections
from common.config import Settings
from common.runtime.context import CommandContext
from common.runtime.dispatcher import MAX_ATTEMPTS, SET_ASIDE_MESSAGE
from common.runtime.registration import instance_key, live_instances
from common.runtime.registry import CommandRegistry
from common.runtime.service import RuntimeHooks, ServiceRuntime
from common.runtime.settings import RuntimeSettings
from common.runtime.topology import dead_letter_name
from workup_pb import admin_pb2, admin_pb2_grpc
from workup_pb.envelope_pb2 import Envelope, Reply
from workup_pb.users_pb2 import PingRequest, PingResponse

pytestmark = pytest.mark.integration

#: Seconds any single condition in these tests may take to come true.
WAIT_S = 10.0
#: Seconds a negative check ("no reply comes") watches for.
QUIET_S = 0.3
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


class EchoService:
    """The service under test: counts handler runs; Slow waits for a gate."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.released = 0
        self.acquired = 0

    def registry(self) -> CommandRegistry:
        registry = CommandRegistry()
        registry.register("Echo", self.echo, PingRequest)
        registry.register("Slow", self.slow, PingRequest)
        registry.register("Fail", self.fail, PingRequest)
        registry.register("Garble", self.garble, PingRequest)
        return registry

    def echo(self, context: CommandContext, request: PingRequest) -> PingResponse:
        with self.lock:
            self.runs[request.echo] += 1
        return PingResponse(echo=request.echo)

    def slow(self, context: CommandContext, request: PingRequest) -> PingResponse:
        self.gate.wait(WAIT_S)
        return self.echo(context, request)

    def fail(self, context: CommandContext, request: PingRequest) -> PingResponse:
        raise RuntimeError("the handler broke")

    def garble(self, context: CommandContext, request: PingRequest) -> Any:
        return "not a protobuf message"

    def release(self) -> None:
        self.released += 1

    def acquire(self) -> None:
        self.acquired += 1


class Caller:
    """Publishes envelopes like the edge does and collects the replies."""

    def __init__(self, settings: Settings, queue: str) -> None:
        self.queue = queue
        self.connection = connections.connect_amqp(settings)
        self.channel = self.connection.channel()
        declared = self.channel.queue_declare(queue="", exclusive=True)
        self.reply_queue: str = declared.method.queue
        self.replies: dict[str, Reply] = {}
        self.channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)

    def send(
        self,
        command: str,
        text: str = "hi",
        *,
        deadline_unix_ms: int | None = None,
        idempotency_key: str = "",
        payload: bytes | None = None,
    ) -> str:
        if deadline_unix_ms is None:
            deadline_unix_ms = int((time.time() + 30) * 1000)
        envelope = Envelope(
            command=command,
            request_id=uuid.uuid4().hex,
            deadline_unix_ms=deadline_unix_ms,
            idempotency_key=idempotency_key,
            attempt=1,
            payload=PingRequest(echo=text).SerializeToString()
            if payload is None
            else payload,
        )
        correlation_id = uuid.uuid4().hex
        properties = pika.BasicProperties(
            reply_to=self.reply_queue, correlation_id=correlation_id
        )
        self.channel.basic_publish(
            "", self.queue, envelope.SerializeToString(), properties
        )
        return correlation_id

    def reply(self, correlation_id: str) -> Reply:
        deadline = time.monotonic() + WAIT_S
        while correlation_id not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no reply for {correlation_id}")
            self.connection.process_data_events(time_limit=min(remaining, 0.2))
        return self.replies.pop(correlation_id)

    def call(self, command: str, text: str = "hi", **fields: Any) -> Reply:
        return self.reply(self.send(command, text, **fields))

    def assert_no_reply(self, correlation_id: str) -> None:
        self.connection.process_data_events(time_limit=QUIET_S)
        assert correlation_id not in self.replies

    def depth(self, queue: str | None = None) -> int:
        declared = self.channel.queue_declare(queue or self.queue, passive=True)
        count: int = declared.method.message_count
        return count

    def _on_reply(
        self, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        self.replies[properties.correlation_id] = Reply.FromString(body)


class Admin:
    """gRPC clients of one instance's admin port, with the token attached."""

    def __init__(self, port: int, token: str) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = admin_pb2_grpc.AdminStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    def __call__(self, rpc: str, request: Any) -> Any:
        method = getattr(self.stub, rpc)
        return method(request, metadata=self.metadata, timeout=WAIT_S * 2)

    def health_of(self, service: str) -> int:
        request = health_pb2.HealthCheckRequest(service=service)
        status: int = self.health.Check(request, timeout=WAIT_S).status
        return status


class Instance:
    """A ServiceRuntime running on a thread; `stop` is safe to call twice."""

    def __init__(self, settings: RuntimeSettings, service: EchoService) -> None:
        self.settings = settings
        self.service = service
        hooks = RuntimeHooks(release=service.release, acquire=service.acquire)
        self.runtime = ServiceRuntime(settings, service.registry(), hooks=hooks)
        self.thread = threading.Thread(target=self.runtime.run, daemon=True)
        self.thread.start()
        assert self.runtime.wait_ready(WAIT_S)

    def stop(self) -> None:
        self.service.gate.set()
        self.runtime.stop()
        self.thread.join(WAIT_S * 2)
        assert not self.thread.is_alive()


class BrokerProxy:
    """A TCP relay to the broker that a test can cut to play an outage."""

    def __init__(self, amqp_url: str) -> None:
        parameters = pika.URLParameters(amqp_url)
        self.upstream = (parameters.host, parameters.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def cut(self) -> None:
        """Drops every relayed connection and refuses new ones."""
        self.up.clear()
        with self.lock:
            for sock in self.open:
                close_quietly(sock)
            self.open.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open += [client, server]
            for source, target in ((client, server), (server, client)):
                relay = threading.Thread(
                    target=self._relay, args=(source, target), daemon=True
                )
                relay.start()

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            close_quietly(source)
            close_quietly(target)


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def make_settings(stack: Settings) -> RuntimeSettings:
    name = uuid.uuid4().hex[:10]
    return RuntimeSettings(
        service=f"test-{name}",
        queue=f"test.runtime.{name}",
        admin_token=secrets.token_urlsafe(16),
        stack=stack,
        max_threads=4,
    )


@pytest.fixture
def service() -> EchoService:
    return EchoService()


@pytest.fixture
def runtime_settings(settings: Settings) -> Iterator[RuntimeSettings]:
    runtime_settings = make_settings(settings)
    yield runtime_settings
    remove_queues(settings, runtime_settings)


def remove_queues(settings: Settings, runtime_settings: RuntimeSettings) -> None:
    connection = connections.connect_amqp(settings)
    channel = connection.channel()
    dead = dead_letter_name(runtime_settings.queue)
    channel.queue_delete(runtime_settings.queue)
    channel.queue_delete(dead)
    channel.exchange_delete(dead)
    connection.close()
    client = connections.connect_redis(settings)
    keys = list(client.scan_iter(match=f"idem:{runtime_settings.service}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def instance(
    runtime_settings: RuntimeSettings, service: EchoService
) -> Iterator[Instance]:
    instance = Instance(runtime_settings, service)
    yield instance
    instance.stop()


@pytest.fixture
def caller(settings: Settings, runtime_settings: RuntimeSettings) -> Iterator[Caller]:
    caller = Caller(settings, runtime_settings.queue)
    yield caller
    caller.connection.close()


@pytest.fixture
def admin(instance: Instance) -> Iterator[Admin]:
    admin = Admin(instance.runtime.admin_port, instance.settings.admin_token)
    yield admin
    admin.channel.close()


def test_an_echo_comes_back_under_its_correlation_id(
    instance: Instance, caller: Caller
) -> None:
    correlation_id = caller.send("Echo", "hello")

    reply = caller.reply(correlation_id)

    assert reply.status == 200
    assert reply.error_code == ""
    assert not reply.HasField("error_message")
    assert PingResponse.FromString(reply.payload).echo == "hello"


def test_a_command_past_its_deadline_is_dropped_unrun(
    instance: Instance, caller: Caller
) -> None:
    late = caller.send("Echo", "late", deadline_unix_ms=int(time.time() * 1000) - 1)

    assert caller.call("Echo", "on time").status == 200
    wait_until(lambda: instance.runtime.status().in_flight == 0, "all is settled")
    caller.assert_no_reply(late)
    assert instance.service.runs["late"] == 0
    assert caller.depth() == 0


def test_a_failing_handler_answers_500_and_the_instance_keeps_serving(
    instance: Instance, caller: Caller
) -> None:
    failed = caller.call("Fail")

    assert failed.status == 500
    assert failed.error_code == "INTERNAL_SERVER_ERROR"
    assert not failed.HasField("error_message")
    assert caller.call("Garble").status == 500
    assert caller.call("Echo", "still here").status == 200


def test_a_malformed_payload_is_a_bad_request(
    instance: Instance, caller: Caller
) -> None:
    reply = caller.call("Echo", payload=b"\xff\xff\xff")

    assert reply.status == 400
    assert reply.error_message == "The request payload is malformed."


def test_a_message_that_is_no_envelope_is_dead_lettered_with_a_400(
    instance: Instance, caller: Caller
) -> None:
    correlation_id = uuid.uuid4().hex
    properties = pika.BasicProperties(
        reply_to=caller.reply_queue, correlation_id=correlation_id
    )
    caller.channel.basic_publish("", caller.queue, b"\xff\xff", properties)

    reply = caller.reply(correlation_id)

    assert (reply.status, reply.error_code) == (400, "BAD_REQUEST")
    dead = dead_letter_name(instance.settings.queue)
    wait_until(lambda: caller.depth(dead) == 1, "the message is dead-lettered")


def test_a_duplicate_idempotency_key_runs_the_handler_once(
    instance: Instance, caller: Caller, settings: Settings
) -> None:
    key = uuid.uuid4().hex
    client = connections.connect_redis(settings)
    pattern = f"idem:{instance.settings.service}:*"
    records_before = set(client.scan_iter(match=pattern))
    # Both in flight at once: the second must wait for the first's record.
    first = caller.send("Echo", "pay once", idempotency_key=key)
    second = caller.send("Echo", "pay once", idempotency_key=key)
    replies = [caller.reply(first), caller.reply(second)]
    replies.append(caller.call("Echo", "pay once", idempotency_key=key))

    assert instance.service.runs["pay once"] == 1
    assert {(reply.status, reply.payload) for reply in replies} == {
        (200, PingResponse(echo="pay once").SerializeToString())
    }
    assert len({reply.request_id for reply in replies}) == 3
    new_records = [
        record
        for record in set(client.scan_iter(match=pattern)) - records_before
        if not record.endswith(b":claim")
    ]
    assert len(new_records) == 1
    ttl = client.ttl(new_records[0])
    client.close()
    assert 0 < ttl <= 24 * 60 * 60


def test_resizing_the_pool_under_load_answers_everyone_and_moves_prefetch(
    instance: Instance, caller: Caller, admin: Admin
) -> None:
    runtime = instance.runtime
    assert admin("SetMaxThreads", admin_pb2.SetMaxThreadsRequest(count=1)).max_threads
    wait_until(lambda: runtime.prefetch_count == 1, "the prefetch is 1")
    slow = [caller.send("Slow", f"slow {n}") for n in range(3)]
    echoes = [caller.send("Echo", f"echo {n}") for n in range(5)]
    # Prefetch 1: the broker hands over one message and keeps the rest.
    wait_until(
        lambda: runtime.status().in_flight == 1 and caller.depth() == 7,
        "one message is in flight and seven wait",
    )

    resized = admin("SetMaxThreads", admin_pb2.SetMaxThreadsRequest(count=4))

    assert resized.max_threads == 4
    wait_until(lambda: runtime.prefetch_count == 4, "the prefetch is 4")
    # Two slow handlers block two threads; the other two answer the echoes.
    assert all(caller.reply(echo).status == 200 for echo in echoes)
    instance.service.gate.set()
    assert all(caller.reply(one).status == 200 for one in slow)
    assert runtime.status().max_threads == 4
    assert caller.depth() == 0


def test_freeze_stops_consuming_and_start_resumes(
    instance: Instance, caller: Caller, admin: Admin
) -> None:
    frozen = admin("Freeze", admin_pb2.FreezeRequest())

    assert frozen.state == admin_pb2.InstanceState.FROZEN
    assert instance.service.released == 1
    waiting = caller.send("Echo", "while frozen")
    wait_until(lambda: caller.depth() == 1, "the message waits in the queue")
    caller.assert_no_reply(waiting)

    started = admin("Start", admin_pb2.StartRequest())

    assert started.state == admin_pb2.InstanceState.RUNNING
    assert instance.service.acquired == 1
    assert caller.reply(waiting).status == 200
    status = admin("GetStatus", admin_pb2.GetStatusRequest())
    assert status.state == admin_pb2.InstanceState.RUNNING


def test_health_turns_not_serving_before_in_flight_work_finishes(
    instance: Instance, caller: Caller, admin: Admin
) -> None:
    service_name = instance.settings.service
    assert admin.health_of("") == SERVING
    assert admin.health_of(service_name) == SERVING
    in_flight = caller.send("Slow", "draining")
    wait_until(lambda: instance.runtime.status().in_flight == 1, "Slow is running")

    with ThreadPoolExecutor(1) as pool:
        freezing = pool.submit(admin, "Freeze", admin_pb2.FreezeRequest())
        wait_until(lambda: admin.health_of(service_name) == NOT_SERVING, "draining")
        assert admin.health_of("") == NOT_SERVING
        assert not freezing.done()
        instance.service.gate.set()
        assert freezing.result(WAIT_S).state == admin_pb2.InstanceState.FROZEN

    assert caller.reply(in_flight).status == 200
    admin("Start", admin_pb2.StartRequest())
    assert admin.health_of(service_name) == SERVING


def test_a_deleted_command_answers_501_until_added_again(
    instance: Instance, caller: Caller, admin: Admin
) -> None:
    deleted = admin("DeleteCommand", admin_pb2.DeleteCommandRequest(name="Echo"))

    assert not deleted.command.enabled
    reply = caller.call("Echo")
    assert (reply.status, reply.error_code) == (501, "NOT_IMPLEMENTED")
    assert reply.error_message == "Not Implemented."

    added = admin("AddCommand", admin_pb2.AddCommandRequest(name="Echo"))

    assert added.command.enabled
    assert caller.call("Echo").status == 200


def test_a_command_updated_from_a_module_file_can_be_rolled_back(
    instance: Instance, caller: Caller, admin: Admin, tmp_path: Path
) -> None:
    module = tmp_path / "echo_v2.py"
    module.write_text(
        textwrap.dedent(
            """
            from workup_pb.users_pb2 import PingResponse
            VERSION = "2"
            def handle(context, request):
                return PingResponse(echo="v2:" + request.echo)
            """
        )
    )

    updated = admin(
        "UpdateCommand",
        admin_pb2.UpdateCommandRequest(name="Echo", module=str(module)),
    )

    assert (updated.command.version, updated.previous_version) == ("2", "1")
    echoed = caller.call("Echo", "x")
    assert PingResponse.FromString(echoed.payload).echo == "v2:x"

    rolled_back = admin(
        "RollbackCommand", admin_pb2.RollbackCommandRequest(name="Echo")
    )

    assert rolled_back.command.version == "1"
    assert PingResponse.FromString(caller.call("Echo", "x").payload).echo == "x"


def test_admin_calls_without_the_token_are_unauthenticated_and_audited(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workup.audit")
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        with pytest.raises(grpc.RpcError) as raised:
            admin.stub.GetStatus(
                admin_pb2.GetStatusRequest(), metadata=metadata, timeout=WAIT_S
            )
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED

    admin("GetStatus", admin_pb2.GetStatusRequest())

    outcomes = [
        (record.__dict__["action"], record.__dict__["outcome"])
        for record in caplog.records
        if record.name == "workup.audit"
    ]
    assert outcomes == [
        ("GetStatus", "UNAUTHENTICATED"),
        ("GetStatus", "UNAUTHENTICATED"),
        ("GetStatus", "OK"),
    ]


def test_admin_refusals_carry_grpc_status_codes(admin: Admin) -> None:
    cases = [
        ("SetMaxDbConnections", admin_pb2.SetMaxDbConnectionsRequest(count=5)),
        ("DeleteCommand", admin_pb2.DeleteCommandRequest(name="Nope")),
        ("UpdateCommand", admin_pb2.UpdateCommandRequest(name="Echo")),
        ("SetLogLevel", admin_pb2.SetLogLevelRequest(level="LOUD")),
    ]
    codes = []
    for rpc, request in cases:
        with pytest.raises(grpc.RpcError) as raised:
            admin(rpc, request)
        codes.append(raised.value.code())

    assert codes == [
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INVALID_ARGUMENT,
    ]


def test_set_log_level_changes_the_named_logger(admin: Admin) -> None:
    name = f"test.runtime.{uuid.uuid4().hex[:8]}"
    request = admin_pb2.SetLogLevelRequest(level="debug", logger=name)

    response = admin("SetLogLevel", request)

    assert (response.level, response.logger) == ("DEBUG", name)
    assert logging.getLogger(name).level == logging.DEBUG


def test_a_message_delivered_too_often_is_dead_lettered_and_answered_500(
    instance: Instance, caller: Caller, admin: Admin
) -> None:
    admin("Freeze", admin_pb2.FreezeRequest())
    poison = caller.send("Echo", "poison")
    # Stand in for consumers that died holding it: take it and give it back.
    for _ in range(MAX_ATTEMPTS):
        method = None
        deadline = time.monotonic() + WAIT_S
        while method is None and time.monotonic() < deadline:
            method, _properties, _body = caller.channel.basic_get(caller.queue)
        assert method is not None
        caller.channel.basic_nack(method.delivery_tag, requeue=True)

    admin("Start", admin_pb2.StartRequest())

    reply = caller.reply(poison)
    assert (reply.status, reply.error_message) == (500, SET_ASIDE_MESSAGE)
    assert instance.service.runs["poison"] == 0
    dead = dead_letter_name(instance.settings.queue)
    wait_until(lambda: caller.depth(dead) == 1, "the message is dead-lettered")
    assert caller.depth() == 0


def test_the_instance_is_registered_while_it_runs(
    instance: Instance, settings: Settings
) -> None:
    client = connections.connect_redis(settings)
    service_name = instance.settings.service

    [found] = live_instances(client, service_name)

    assert found.admin_port == instance.runtime.admin_port
    assert found.instance_id == instance.settings.instance_id
    assert found.host == "127.0.0.1"
    key = instance_key(service_name, found.instance_id)
    assert 0 < client.ttl(key) <= 15

    instance.stop()

    assert live_instances(client, service_name) == []
    client.close()


def test_the_consumer_reconnects_by_itself_after_the_broker_goes_away(
    settings: Settings, service: EchoService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="common.runtime.consumer")
    proxy = BrokerProxy(settings.amqp_url)
    proxied = make_settings(dataclasses.replace(settings, amqp_url=proxy.url()))
    instance = Instance(proxied, service)
    caller = Caller(settings, proxied.queue)
    admin = Admin(instance.runtime.admin_port, proxied.admin_token)
    try:
        assert caller.call("Echo", "before").status == 200

        proxy.cut()
        wait_until(lambda: admin.health_of("") == NOT_SERVING, "health drops")
        queued = caller.send("Echo", "during the outage")
        wait_until(lambda: "still unreachable" in caplog.text, "a reconnect has failed")
        proxy.restore()

        assert caller.reply(queued).status == 200
        wait_until(lambda: admin.health_of("") == SERVING, "health is back")
        critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
        assert len(critical) == 1
        assert "Reached the broker" in caplog.text
    finally:
        instance.stop()
        admin.channel.close()
        caller.connection.close()
        proxy.close()
        remove_queues(settings, proxied)
