"""The 13 payments commands (API.md 5.3): validation, ownership, replies.

Routed commands get the caller's id from the edge in `client_id` or
`freelancer_id` (protos/README.md), so every read is scoped to the caller:
nobody sees another user's requests, payments or wallet. Internal commands
(CreateWallet, CreatePaymentRequest, GetPaymentRequest,
CreateWalletTransaction) carry their ids as data from the calling service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from common.errors import BadRequest, Forbidden, NotFound
from common.runtime.context import CommandContext, Handler
from svc_payments import ids
from svc_payments.milestones import mark_paid_message
from svc_payments.money import parse_amount, to_wire
from svc_payments.store import (
    EntryType,
    LedgerEntry,
    NewPaymentRequest,
    PaymentRequestRow,
    PaymentsStore,
    PaymentTransactionRow,
    WalletTransactionRow,
)
from workup_pb import payments_pb2 as pb

#: Longest id accepted; longer ones cannot name anything we store.
MAX_ID_LENGTH = 128
#: Longest ledger description accepted.
MAX_DESCRIPTION_LENGTH = 1000

_ENTRY_TYPES: dict[int, EntryType] = {
    pb.WalletTransactionType.DEBIT: "DEBIT",
    pb.WalletTransactionType.CREDIT: "CREDIT",
}


class PaymentHandlers:
    def __init__(
        self, store: PaymentsStore, on_paid: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._on_paid = on_paid

    def handlers(self) -> dict[str, Handler]:
        """Every command of the Payments service, by name."""
        return {
            "CreatePaymentRequest": self.create_payment_request,
            "GetClientPaymentRequests": self.get_client_payment_requests,
            "GetFreelancerPaymentRequests": self.get_freelancer_payment_requests,
            "GetPaymentRequest": self.get_payment_request,
            "PayPaymentRequest": self.pay_payment_request,
            "GetClientPaymentTransactions": self.get_client_payment_transactions,
            "GetFreelancerPaymentTransactions": (
                self.get_freelancer_payment_transactions
            ),
            "CreateWallet": self.create_wallet,
            "GetWallet": self.get_wallet,
            "CreateWalletTransaction": self.create_wallet_transaction,
            "GetWalletTransaction": self.get_wallet_transaction,
            "GetWalletTransactions": self.get_wallet_transactions,
            "WithdrawFromWallet": self.withdraw_from_wallet,
        }

    # Payment requests

    def create_payment_request(
        self, context: CommandContext, request: pb.CreatePaymentRequestRequest
    ) -> pb.CreatePaymentRequestResponse:
        _require_ids(
            clientId=request.client_id,
            freelancerId=request.freelancer_id,
            referenceId=request.reference_id,
        )
        wanted = NewPaymentRequest(
            client_id=request.client_id,
            freelancer_id=request.freelancer_id,
            amount=parse_amount(request.amount),
            reference_id=request.reference_id,
        )
        stored = self._store.create_payment_request(wanted)
        if not _same_terms(stored, wanted):
            # A retry repeats the terms; different ones are a caller's bug
            # that must not pass for success.
            raise BadRequest(
                "A payment request with other terms exists for this referenceId"
            )
        return pb.CreatePaymentRequestResponse(payment_request_id=stored.id)

    def get_client_payment_requests(
        self, context: CommandContext, request: pb.GetClientPaymentRequestsRequest
    ) -> pb.GetClientPaymentRequestsResponse:
        _require_ids(clientId=request.client_id)
        rows = self._store.payment_requests("client", request.client_id)
        return pb.GetClientPaymentRequestsResponse(
            requests=[_payment_request(row) for row in rows]
        )

    def get_freelancer_payment_requests(
        self, context: CommandContext, request: pb.GetFreelancerPaymentRequestsRequest
    ) -> pb.GetFreelancerPaymentRequestsResponse:
        _require_ids(freelancerId=request.freelancer_id)
        rows = self._store.payment_requests("freelancer", request.freelancer_id)
        return pb.GetFreelancerPaymentRequestsResponse(
            requests=[_payment_request(row) for row in rows]
        )

    def get_payment_request(
        self, context: CommandContext, request: pb.GetPaymentRequestRequest
    ) -> pb.GetPaymentRequestResponse:
        row = None
        if _plausible_id(request.payment_request_id):
            row = self._store.payment_request(request.payment_request_id)
        if row is None or not _may_see(request.user_id, row):
            raise NotFound("Payment request not found")
        return pb.GetPaymentRequestResponse(request=_payment_request(row))

    # Payments

    def pay_payment_request(
        self, context: CommandContext, request: pb.PayPaymentRequestRequest
    ) -> pb.PayPaymentRequestResponse:
        if not _plausible_id(request.payment_request_id):
            raise NotFound("Payment request not found")
        payer_id = request.client_id
        if not payer_id:
            raise Forbidden("Only the client of a payment request may pay it")
        transaction_id = self._store.pay(
            request.payment_request_id,
            payer_id=payer_id,
            call_key=_call_key(context),
            notify=lambda paid: mark_paid_message(paid.id, paid.reference_id, payer_id),
        )
        self._on_paid()
        return pb.PayPaymentRequestResponse(
            transaction_id=transaction_id,
            transaction_status=pb.PaymentTransactionStatus.SUCCESS,
        )

    def get_client_payment_transactions(
        self, context: CommandContext, request: pb.GetClientPaymentTransactionsRequest
    ) -> pb.GetClientPaymentTransactionsResponse:
        _require_ids(clientId=request.client_id)
        rows = self._store.payment_transactions("client", request.client_id)
        return pb.GetClientPaymentTransactionsResponse(
            transactions=[_payment_transaction(row) for row in rows]
        )

    def get_freelancer_payment_transactions(
        self,
        context: CommandContext,
        request: pb.GetFreelancerPaymentTransactionsRequest,
    ) -> pb.GetFreelancerPaymentTransactionsResponse:
        _require_ids(freelancerId=request.freelancer_id)
        rows = self._store.payment_transactions("freelancer", request.freelancer_id)
        return pb.GetFreelancerPaymentTransactionsResponse(
            transactions=[_payment_transaction(row) for row in rows]
        )

    # Wallets

    def create_wallet(
        self, context: CommandContext, request: pb.CreateWalletRequest
    ) -> pb.CreateWalletResponse:
        _require_ids(freelancerId=request.freelancer_id)
        if not self._store.create_wallet(request.freelancer_id):
            raise BadRequest("Wallet already exists")
        return pb.CreateWalletResponse()

    def get_wallet(
        self, context: CommandContext, request: pb.GetWalletRequest
    ) -> pb.GetWalletResponse:
        balance = None
        if _plausible_id(request.freelancer_id):
            balance = self._store.wallet_balance(request.freelancer_id)
        if balance is None:
            raise NotFound("Wallet not found")
        return pb.GetWalletResponse(balance=to_wire(balance))

    def create_wallet_transaction(
        self, context: CommandContext, request: pb.CreateWalletTransactionRequest
    ) -> pb.CreateWalletTransactionResponse:
        _require_ids(freelancerId=request.freelancer_id)
        entry_type = _ENTRY_TYPES.get(request.transaction_type)
        if entry_type is None:
            raise BadRequest("transactionType must be DEBIT or CREDIT")
        entry = LedgerEntry(
            id=ids.wallet_entry_id(request.freelancer_id, _call_key(context)),
            wallet_id=request.freelancer_id,
            transaction_type=entry_type,
            description=_description(request),
            payment_transaction_id=_optional_id(request, "payment_transaction_id"),
        )
        # Unlike Orig (API.md B12) the balance moves with the row, so the
        # ledger always adds up to the balance.
        self._store.post(entry, request.amount)
        return pb.CreateWalletTransactionResponse(wallet_transaction_id=entry.id)

    def get_wallet_transaction(
        self, context: CommandContext, request: pb.GetWalletTransactionRequest
    ) -> pb.GetWalletTransactionResponse:
        row = None
        if _plausible_id(request.wallet_transaction_id) and request.freelancer_id:
            row = self._store.wallet_transaction(
                request.wallet_transaction_id, request.freelancer_id
            )
        if row is None:
            raise NotFound("Wallet transaction not found")
        return pb.GetWalletTransactionResponse(transaction=_wallet_transaction(row))

    def get_wallet_transactions(
        self, context: CommandContext, request: pb.GetWalletTransactionsRequest
    ) -> pb.GetWalletTransactionsResponse:
        rows = None
        if _plausible_id(request.freelancer_id):
            rows = self._store.wallet_transactions(request.freelancer_id)
        if rows is None:
            raise BadRequest("Wallet does not exist")
        return pb.GetWalletTransactionsResponse(
            transactions=[_wallet_transaction(row) for row in rows]
        )

    def withdraw_from_wallet(
        self, context: CommandContext, request: pb.WithdrawFromWalletRequest
    ) -> pb.WithdrawFromWalletResponse:
        if not _plausible_id(request.freelancer_id):
            raise NotFound("Wallet not found")
        entry = LedgerEntry(
            id=ids.wallet_entry_id(request.freelancer_id, _call_key(context)),
            wallet_id=request.freelancer_id,
            transaction_type="DEBIT",
            description=_description(request),
        )
        balance = self._store.post(entry, request.amount)
        return pb.WithdrawFromWalletResponse(balance=to_wire(balance))


def _call_key(context: CommandContext) -> str:
    """What makes this call the same call when it is retried or redelivered."""
    return context.idempotency_key or context.request_id


def _require_ids(**fields: str) -> None:
    for name, value in fields.items():
        if not value.strip():
            raise BadRequest(f"{name} is required")
        if len(value) > MAX_ID_LENGTH:
            raise BadRequest(f"{name} must be at most {MAX_ID_LENGTH} characters")


def _plausible_id(value: str) -> bool:
    """Whether `value` could name a row; anything else is simply not found."""
    return 0 < len(value) <= MAX_ID_LENGTH


def _optional_id(request: Any, field: str) -> str | None:
    if not request.HasField(field):
        return None
    value: str = getattr(request, field)
    if len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"{field} must be at most {MAX_ID_LENGTH} characters")
    return value


def _description(request: Any) -> str | None:
    if not request.HasField("description"):
        return None
    text: str = request.description
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise BadRequest(
            f"description must be at most {MAX_DESCRIPTION_LENGTH} characters"
        )
    return text


def _may_see(user_id: str, row: PaymentRequestRow) -> bool:
    """A caller who names itself sees only the requests it is a party to."""
    return not user_id or user_id in (row.client_id, row.freelancer_id)


def _same_terms(stored: PaymentRequestRow, wanted: NewPaymentRequest) -> bool:
    return (stored.client_id, stored.freelancer_id, stored.amount) == (
        wanted.client_id,
        wanted.freelancer_id,
        wanted.amount,
    )


def _timestamp(when: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _payment_request(row: PaymentRequestRow) -> pb.PaymentRequest:
    return pb.PaymentRequest(
        id=row.id,
        freelancer_id=row.freelancer_id,
        client_id=row.client_id,
        amount=to_wire(row.amount),
        reference_id=row.reference_id,
        created_at=_timestamp(row.created_at),
        updated_at=_timestamp(row.updated_at),
        status=pb.PaymentRequestStatus.Value.Value(row.status),
    )


def _payment_transaction(row: PaymentTransactionRow) -> pb.PaymentTransaction:
    return pb.PaymentTransaction(
        id=row.id,
        payment_request_id=row.payment_request_id,
        amount=to_wire(row.amount),
        created_at=_timestamp(row.created_at),
        updated_at=_timestamp(row.updated_at),
        status=pb.PaymentTransactionStatus.Value.Value(row.status),
    )


def _wallet_transaction(row: WalletTransactionRow) -> pb.WalletTransaction:
    return pb.WalletTransaction(
        id=row.id,
        wallet_id=row.wallet_id,
        amount=to_wire(row.amount),
        payment_transaction_id=row.payment_transaction_id,
        description=row.description,
        created_at=_timestamp(row.created_at),
        transaction_type=pb.WalletTransactionType.Value.Value(row.transaction_type),
    )
