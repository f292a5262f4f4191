"""RpcClient against the real broker: replies, missing consumers, deadlines."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pika
import pytest

from common import connections
from common.bus import RpcClient, new_envelope
from common.config import Settings
from common.errors import DeadlineExceeded, Unavailable
from workup_pb.envelope_pb2 import Envelope, Reply
from workup_pb.users_pb2 import PingRequest, PingResponse

pytestmark = pytest.mark.integration


@pytest.fixture
def rpc(settings: Settings) -> Iterator[RpcClient]:
    client = RpcClient(settings.amqp_url, name="test-rpc")
    client.start()
    assert client.connected
    yield client
    client.stop()


@pytest.fixture
def echo_queue(settings: Settings) -> Iterator[str]:
    """A queue served by a plain pika consumer that echoes Ping requests."""
    queue = f"test.echo.{uuid.uuid4().hex}"
    ready = threading.Event()
    stop = threading.Event()

    def serve() -> None:
        connection = connections.connect_amqp(settings)
        channel = connection.channel()
        channel.queue_declare(queue=queue, auto_delete=True)

        def on_message(ch, method, properties, body):
            envelope = Envelope.FromString(body)
            request = PingRequest.FromString(envelope.payload)
            reply = Reply(
                status=200,
                request_id=envelope.request_id,
                payload=PingResponse(echo=request.echo).SerializeToString(),
            )
            ch.basic_publish(
                "",
                properties.reply_to,
                reply.SerializeToString(),
                pika.BasicProperties(correlation_id=properties.correlation_id),
            )
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(queue, on_message)
        ready.set()
        while not stop.is_set():
            connection.process_data_events(time_limit=0.2)
        connection.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    assert ready.wait(10)
    yield queue
    stop.set()
    server.join(timeout=10)


def test_a_call_gets_the_reply_matching_its_request(
    rpc: RpcClient, echo_queue: str
) -> None:
    envelopes = [
        new_envelope("Ping", PingRequest(echo=f"n{index}"), timeout_s=5)
        for index in range(20)
    ]
    futures = [rpc.submit(echo_queue, envelope) for envelope in envelopes]

    for index, future in enumerate(futures):
        reply = future.result(timeout=5)
        assert reply.status == 200
        assert PingResponse.FromString(reply.payload).echo == f"n{index}"


def test_a_queue_nobody_declared_fails_at_once(rpc: RpcClient) -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable):
        rpc.call(f"test.missing.{uuid.uuid4().hex}", _ping(), timeout_s=5)
    assert time.monotonic() - started < 1.0


def test_a_queue_without_consumers_fails_at_once(
    rpc: RpcClient, settings: Settings
) -> None:
    queue = f"test.idle.{uuid.uuid4().hex}"
    connection = connections.connect_amqp(settings)
    connection.channel().queue_declare(queue=queue, auto_delete=False)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            rpc.call(queue, _ping(), timeout_s=5)
        assert time.monotonic() - started < 1.0
    finally:
        connection.channel().queue_delete(queue)
        connection.close()


def test_no_reply_before_the_deadline_raises_deadline_exceeded(
    rpc: RpcClient, settings: Settings
) -> None:
    queue = f"test.silent.{uuid.uuid4().hex}"
    connection = connections.connect_amqp(settings)
    channel = connection.channel()
    channel.queue_declare(queue=queue, auto_delete=True)
    # A consumer that takes messages and never answers.
    channel.basic_consume(queue, lambda *args: None)
    try:
        with pytest.raises(DeadlineExceeded):
            rpc.call(queue, _ping(), timeout_s=0.5)
    finally:
        connection.close()


def _ping() -> Envelope:
    return new_envelope("Ping", PingRequest(echo="x"), timeout_s=5)
