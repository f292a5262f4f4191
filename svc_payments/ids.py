"""Ids derived from what they identify, so a retried write finds its own row.

Delivery is at-least-once: a command can run twice (DESIGN.md 3). Each row a
write creates gets an id computed from the thing it records (the milestone
billed, the request paid, the call that withdrew), never a random one, so
the second run collides with the first instead of adding a second row.
"""

from __future__ import annotations

import uuid

#: Namespace of every payments id (a fixed random UUID, never to change:
#: changing it would give a replayed write a new id).
NAMESPACE = uuid.UUID("5b0f3c52-9d0e-4a51-8f7e-2c6a1d94b3e7")


def _derived(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join((kind, *parts))))


def payment_request_id(reference_id: str) -> str:
    """One payment request per contract milestone."""
    return _derived("payment-request", reference_id)


def payment_transaction_id(payment_request_id: str) -> str:
    """One payment per payment request."""
    return _derived("payment", payment_request_id)


def credit_id(payment_transaction_id: str) -> str:
    """One wallet credit per payment."""
    return _derived("credit", payment_transaction_id)


def mark_paid_message_id(payment_request_id: str) -> str:
    """One "milestone paid" message to contracts per payment request."""
    return _derived("mark-paid", payment_request_id)


def wallet_entry_id(wallet_id: str, call_key: str) -> str:
    """One ledger row per wallet-changing call (its idempotency key)."""
    return _derived("wallet-entry", wallet_id, call_key)
