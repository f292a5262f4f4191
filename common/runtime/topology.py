"""The RabbitMQ objects a service's work queue needs, declared the same everywhere.

Each service consumes one durable quorum queue. The broker counts the
deliveries of each message (`x-delivery-count`) and, past `DELIVERY_LIMIT`,
dead-letters it to `<queue>.dead` through the exchange of the same name, so
a message that keeps killing its consumer cannot loop forever. The consumer
itself sets such a message aside one delivery earlier, so that the caller
still gets a reply (see common/runtime/dispatcher.py).

Every declarer must pass identical arguments, or the broker refuses the
second declaration with PRECONDITION_FAILED; so they live here only.
https://www.rabbitmq.com/docs/quorum-queues#poison-message-handling
"""

from __future__ import annotations

from typing import Any

#: Redeliveries the broker allows before it dead-letters a message itself.
DELIVERY_LIMIT = 5


def dead_letter_name(queue: str) -> str:
    """Name of the exchange and the queue holding messages set aside."""
    return f"{queue}.dead"


def work_queue_arguments(queue: str) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": dead_letter_name(queue),
    }


def declare_work_queue(channel: Any, queue: str) -> None:
    """Declares the work queue and its dead-letter exchange and queue.

    `channel` is a pika BlockingChannel. Idempotent: a second declaration
    with the same arguments changes nothing.
    """
    dead = dead_letter_name(queue)
    channel.exchange_declare(exchange=dead, exchange_type="fanout", durable=True)
    channel.queue_declare(
        queue=dead, durable=True, arguments={"x-queue-type": "quorum"}
    )
    channel.queue_bind(queue=dead, exchange=dead)
    channel.queue_declare(
        queue=queue, durable=True, arguments=work_queue_arguments(queue)
    )
