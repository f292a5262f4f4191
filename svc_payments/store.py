"""Every read and write of the payments tables; money moves only in here.

Each write that touches a balance runs in one transaction that first locks
the rows it depends on (`SELECT ... FOR UPDATE`), in one fixed order
(payment request, then wallet), so concurrent payments and withdrawals
queue instead of losing updates or deadlocking. A balance never changes
without a `wallet_transaction` row that records the change and the balance
it left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from psycopg.rows import class_row

from common.errors import BadRequest, Forbidden, NotFound
from svc_payments import ids
from svc_payments.database import Connection, Database
from svc_payments.money import parse_amount

EntryType = Literal["CREDIT", "DEBIT"]
Party = Literal["client", "freelancer"]

# Queries are whole literals (no string building), so nothing a caller sends
# can ever become SQL.
_REQUEST_BY_ID = (
    "SELECT id, freelancer_id, client_id, amount, reference_id, status,"
    " created_at, updated_at FROM payment_request WHERE id = %s"
)
_REQUEST_BY_ID_LOCKED = (
    "SELECT id, freelancer_id, client_id, amount, reference_id, status,"
    " created_at, updated_at FROM payment_request WHERE id = %s FOR UPDATE"
)
_REQUEST_BY_REFERENCE = (
    "SELECT id, freelancer_id, client_id, amount, reference_id, status,"
    " created_at, updated_at FROM payment_request WHERE reference_id = %s"
)
_REQUESTS_BY_PARTY = {
    "client": "SELECT id, freelancer_id, client_id, amount, reference_id, status,"
    " created_at, updated_at FROM payment_request"
    " WHERE client_id = %s ORDER BY created_at, id",
    "freelancer": "SELECT id, freelancer_id, client_id, amount, reference_id,"
    " status, created_at, updated_at FROM payment_request"
    " WHERE freelancer_id = %s ORDER BY created_at, id",
}
_PAYMENTS_BY_PARTY = {
    "client": "SELECT t.id, t.payment_request_id, t.amount, t.status,"
    " t.created_at, t.updated_at FROM payment_transaction t"
    " JOIN payment_request r ON r.id = t.payment_request_id"
    " WHERE r.client_id = %s ORDER BY t.created_at, t.id",
    "freelancer": "SELECT t.id, t.payment_request_id, t.amount, t.status,"
    " t.created_at, t.updated_at FROM payment_transaction t"
    " JOIN payment_request r ON r.id = t.payment_request_id"
    " WHERE r.freelancer_id = %s ORDER BY t.created_at, t.id",
}
_LEDGER_ROW = (
    "SELECT id, wallet_id, amount, balance_after, payment_transaction_id,"
    " description, transaction_type, created_at FROM wallet_transaction"
    " WHERE id = %s AND wallet_id = %s"
)
_LEDGER_OF_WALLET = (
    "SELECT id, wallet_id, amount, balance_after, payment_transaction_id,"
    " description, transaction_type, created_at FROM wallet_transaction"
    " WHERE wallet_id = %s ORDER BY created_at, id"
)


@dataclass(frozen=True)
class PaymentRequestRow:
    id: str
    freelancer_id: str
    client_id: str
    amount: Decimal
    reference_id: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class PaymentTransactionRow:
    id: str
    payment_request_id: str
    amount: Decimal
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class WalletTransactionRow:
    id: str
    wallet_id: str
    amount: Decimal
    balance_after: Decimal
    payment_transaction_id: str | None
    description: str | None
    transaction_type: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewPaymentRequest:
    client_id: str
    freelancer_id: str
    amount: Decimal
    reference_id: str


@dataclass(frozen=True)
class LedgerEntry:
    """A change to one wallet, before its amount is checked and applied."""

    id: str
    wallet_id: str
    transaction_type: EntryType
    description: str | None = None
    payment_transaction_id: str | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """A command for another service, to deliver after this transaction."""

    id: str
    command: str
    payload: bytes
    caller_id: str
    caller_role: str


class PaymentsStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    # Wallets

    def create_wallet(self, freelancer_id: str) -> bool:
        """Opens an empty wallet; False when the freelancer has one already."""
        with self._database.transaction() as conn:
            return _insert_wallet(conn, freelancer_id)

    def wallet_balance(self, freelancer_id: str) -> Decimal | None:
        with self._database.transaction() as conn:
            return _balance(conn, freelancer_id)

    def post(self, entry: LedgerEntry, amount: float) -> Decimal:
        """Applies one entry to its wallet, once, and returns the new balance.

        Checks in API.md's order: the wallet, then the amount, then the
        balance. Posting an entry id that is already in the ledger changes
        nothing and returns the balance that entry left (a retried call).

        Raises:
            NotFound: "Wallet not found".
            BadRequest: the amount is invalid, or "Insufficient balance".
        """
        with self._database.transaction() as conn:
            balance = _balance(conn, entry.wallet_id, for_update=True)
            if balance is None:
                raise NotFound("Wallet not found")
            recorded = _balance_left_by(conn, entry.id)
            if recorded is not None:
                return recorded
            return _apply(conn, entry, parse_amount(amount), balance)

    def wallet_transaction(
        self, transaction_id: str, wallet_id: str
    ) -> WalletTransactionRow | None:
        """The ledger row, only if it belongs to `wallet_id` (API.md B11)."""
        with self._database.transaction() as conn:
            cursor = conn.cursor(row_factory=class_row(WalletTransactionRow))
            return cursor.execute(_LEDGER_ROW, (transaction_id, wallet_id)).fetchone()

    def wallet_transactions(self, wallet_id: str) -> list[WalletTransactionRow] | None:
        """The wallet's ledger, oldest first; None when there is no wallet."""
        with self._database.transaction() as conn:
            if _balance(conn, wallet_id) is None:
                return None
            cursor = conn.cursor(row_factory=class_row(WalletTransactionRow))
            return cursor.execute(_LEDGER_OF_WALLET, (wallet_id,)).fetchall()

    # Payment requests

    def create_payment_request(self, new: NewPaymentRequest) -> PaymentRequestRow:
        """Stores a PENDING request for the milestone, or returns the one it has.

        The id comes from the milestone (reference) id, and the reference is
        unique, so a repeated call can never bill a milestone twice.
        """
        with self._database.transaction() as conn:
            conn.execute(
                "INSERT INTO payment_request"
                " (id, freelancer_id, client_id, amount, reference_id, status)"
                " VALUES (%s, %s, %s, %s, %s, 'PENDING') ON CONFLICT DO NOTHING",
                (
                    ids.payment_request_id(new.reference_id),
                    new.freelancer_id,
                    new.client_id,
                    new.amount,
                    new.reference_id,
                ),
            )
            cursor = conn.cursor(row_factory=class_row(PaymentRequestRow))
            row = cursor.execute(_REQUEST_BY_REFERENCE, (new.reference_id,)).fetchone()
        if row is None:  # pragma: no cover - the insert or a conflict made it
            raise RuntimeError("A payment request vanished inside its transaction")
        return row

    def payment_request(self, request_id: str) -> PaymentRequestRow | None:
        with self._database.transaction() as conn:
            cursor = conn.cursor(row_factory=class_row(PaymentRequestRow))
            return cursor.execute(_REQUEST_BY_ID, (request_id,)).fetchone()

    def payment_requests(self, party: Party, party_id: str) -> list[PaymentRequestRow]:
        """The requests of one client or freelancer, oldest first."""
        with self._database.transaction() as conn:
            cursor = conn.cursor(row_factory=class_row(PaymentRequestRow))
            return cursor.execute(_REQUESTS_BY_PARTY[party], (party_id,)).fetchall()

    # Payments

    def pay(
        self,
        request_id: str,
        payer_id: str,
        call_key: str,
        notify: Callable[[PaymentRequestRow], OutboxMessage],
    ) -> str:
        """Pays a pending request in one transaction; returns the payment's id.

        Locks the request, then the freelancer's wallet; records the payment,
        credits the wallet with a ledger row, marks the request PAID and
        queues the message `notify` makes for it in the outbox, all or
        nothing. The same call (same `call_key`) repeated after it succeeded
        gets the same payment id.

        Raises:
            NotFound: "Payment request not found".
            Forbidden: the payer is not the request's client (API.md B10).
            BadRequest: "Payment request is not pending".
        """
        with self._database.transaction() as conn:
            request = _lock_request(conn, request_id)
            if request is None:
                raise NotFound("Payment request not found")
            if request.client_id != payer_id:
                raise Forbidden("Only the client of a payment request may pay it")
            if request.status != "PENDING":
                return _same_payment(conn, request.id, call_key)
            return _settle(conn, request, call_key, notify)

    def payment_transactions(
        self, party: Party, party_id: str
    ) -> list[PaymentTransactionRow]:
        """Payments of one client or freelancer's requests, oldest first."""
        with self._database.transaction() as conn:
            cursor = conn.cursor(row_factory=class_row(PaymentTransactionRow))
            return cursor.execute(_PAYMENTS_BY_PARTY[party], (party_id,)).fetchall()


def _insert_wallet(conn: Connection, freelancer_id: str) -> bool:
    created = conn.execute(
        "INSERT INTO wallet (freelancer_id) VALUES (%s)"
        " ON CONFLICT DO NOTHING RETURNING freelancer_id",
        (freelancer_id,),
    ).fetchone()
    return created is not None


def _balance(
    conn: Connection, wallet_id: str, *, for_update: bool = False
) -> Decimal | None:
    """The wallet's balance (None: no wallet), locked until commit if asked."""
    query = (
        "SELECT balance FROM wallet WHERE freelancer_id = %s FOR UPDATE"
        if for_update
        else "SELECT balance FROM wallet WHERE freelancer_id = %s"
    )
    row = conn.execute(query, (wallet_id,)).fetchone()
    return None if row is None else Decimal(row[0])


def _lock_request(conn: Connection, request_id: str) -> PaymentRequestRow | None:
    cursor = conn.cursor(row_factory=class_row(PaymentRequestRow))
    return cursor.execute(_REQUEST_BY_ID_LOCKED, (request_id,)).fetchone()


def _balance_left_by(conn: Connection, entry_id: str) -> Decimal | None:
    row = conn.execute(
        "SELECT balance_after FROM wallet_transaction WHERE id = %s", (entry_id,)
    ).fetchone()
    return None if row is None else Decimal(row[0])


def _apply(
    conn: Connection, entry: LedgerEntry, amount: Decimal, balance: Decimal
) -> Decimal:
    """Moves `amount` on a wallet the caller has locked; returns the new balance."""
    if entry.transaction_type == "DEBIT":
        if amount > balance:
            raise BadRequest("Insufficient balance")
        new_balance = balance - amount
    else:
        new_balance = balance + amount
    conn.execute(
        "UPDATE wallet SET balance = %s, updated_at = clock_timestamp()"
        " WHERE freelancer_id = %s",
        (new_balance, entry.wallet_id),
    )
    conn.execute(
        "INSERT INTO wallet_transaction (id, wallet_id, amount, balance_after,"
        " payment_transaction_id, description, transaction_type)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            entry.id,
            entry.wallet_id,
            amount,
            new_balance,
            entry.payment_transaction_id,
            entry.description,
            entry.transaction_type,
        ),
    )
    return new_balance


def _same_payment(conn: Connection, request_id: str, call_key: str) -> str:
    """The payment id when `call_key` is the call that paid; else refuses."""
    row = conn.execute(
        "SELECT id FROM payment_transaction"
        " WHERE payment_request_id = %s AND idempotency_key = %s",
        (request_id, call_key),
    ).fetchone()
    if row is None:
        raise BadRequest("Payment request is not pending")
    return str(row[0])


def _settle(
    conn: Connection,
    request: PaymentRequestRow,
    call_key: str,
    notify: Callable[[PaymentRequestRow], OutboxMessage],
) -> str:
    transaction_id = ids.payment_transaction_id(request.id)
    conn.execute(
        "INSERT INTO payment_transaction"
        " (id, payment_request_id, amount, status, idempotency_key)"
        " VALUES (%s, %s, %s, 'SUCCESS', %s)",
        (transaction_id, request.id, request.amount, call_key),
    )
    # A wallet missed at registration (API.md X1 failed) must not block a
    # payment: open it here, as X1's Rec allows.
    _insert_wallet(conn, request.freelancer_id)
    balance = _balance(conn, request.freelancer_id, for_update=True)
    credit = LedgerEntry(
        id=ids.credit_id(transaction_id),
        wallet_id=request.freelancer_id,
        transaction_type="CREDIT",
        payment_transaction_id=transaction_id,
    )
    _apply(conn, credit, request.amount, balance or Decimal(0))
    conn.execute(
        "UPDATE payment_request SET status = 'PAID', updated_at = clock_timestamp()"
        " WHERE id = %s",
        (request.id,),
    )
    _enqueue(conn, notify(request))
    return transaction_id


def _enqueue(conn: Connection, message: OutboxMessage) -> None:
    conn.execute(
        "INSERT INTO outbox (id, command, payload, caller_id, caller_role)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (
            message.id,
            message.command,
            message.payload,
            message.caller_id,
            message.caller_role,
        ),
    )
