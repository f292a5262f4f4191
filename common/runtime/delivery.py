"""One message between the I/O thread and a handler thread, and how it is settled.

`process` runs on a handler thread and never touches the channel: it asks
the dispatcher for an Outcome and queues `settle` for the I/O thread with
`connection.add_callback_threadsafe`, the one pika call that is thread-safe.
`settle` then publishes the reply to `reply_to` (same correlation id) and
only after that acknowledges or rejects the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pika
import pika.exceptions

from common.runtime.dispatcher import Outcome, Settlement

logger = logging.getLogger(__name__)

#: Content type of every reply.
REPLY_CONTENT_TYPE = "application/x-protobuf"


@dataclass(frozen=True)
class Delivery:
    """A message as pika handed it over, with the connection it came on."""

    connection: Any
    channel: Any
    tag: int
    properties: Any
    body: bytes

    @property
    def delivery_count(self) -> int:
        """Earlier deliveries of the message, as the quorum queue counts them."""
        headers = self.properties.headers or {}
        return int(headers.get("x-delivery-count", 0))


def process(
    delivery: Delivery,
    dispatch: Callable[[bytes, int], Outcome],
    on_settled: Callable[[], None],
) -> None:
    """Handler thread: dispatch, then hand the reply and settlement back."""
    try:
        outcome = dispatch(delivery.body, delivery.delivery_count)
    except Exception:
        logger.exception("Dispatching a message failed; requeueing it.")
        outcome = Outcome(reply=None, settlement=Settlement.REQUEUE)
    try:
        delivery.connection.add_callback_threadsafe(
            partial(settle, delivery, outcome, on_settled)
        )
    except pika.exceptions.ConnectionWrongStateError:
        # The broker redelivers the message; the guard answers the duplicate.
        logger.warning("Lost a reply: the broker connection closed first.")


def settle(
    delivery: Delivery, outcome: Outcome, on_settled: Callable[[], None]
) -> None:
    """I/O thread: publish the reply, then acknowledge or reject."""
    try:
        if outcome.reply is not None and delivery.properties.reply_to:
            _publish_reply(delivery, outcome.reply)
        _settle_message(delivery.channel, delivery.tag, outcome.settlement)
    finally:
        on_settled()


def _publish_reply(delivery: Delivery, reply: bytes) -> None:
    # No publisher confirm here: waiting for one would stall the I/O thread,
    # and a lost reply costs the caller a timeout and a retry, not an effect.
    delivery.channel.basic_publish(
        exchange="",
        routing_key=delivery.properties.reply_to,
        body=reply,
        properties=pika.BasicProperties(
            correlation_id=delivery.properties.correlation_id,
            content_type=REPLY_CONTENT_TYPE,
        ),
    )


def _settle_message(channel: Any, tag: int, settlement: Settlement) -> None:
    if settlement is Settlement.ACK:
        channel.basic_ack(tag)
    elif settlement is Settlement.DEAD_LETTER:
        channel.basic_reject(tag, requeue=False)
    else:
        channel.basic_nack(tag, requeue=True)
