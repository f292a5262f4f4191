"""The users service's MongoDB collections, behind one small adapter.

Collection names follow the reference system (`client`, `Freelancer`), so an
existing database can be read. An email belongs to one account of either
type: the `emails` collection, keyed by the normalised address, is the single
place that decides it, race-free, through its unique `_id`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from common.errors import BadRequest, Unavailable

AccountType = Literal["CLIENT", "FREELANCER"]
Document = dict[str, Any]

#: A claimed email whose account never got written (its writer died) is
#: released to a new registration after this many seconds.
ABANDONED_CLAIM_AGE_S = 60


@dataclass(frozen=True)
class Account:
    """What login needs to know about a stored account."""

    account_type: AccountType
    user_id: str
    email: str
    password_hash: str


class EmailTaken(Exception):
    """Raised when another account already holds the email."""

    def __init__(self, holder_type: AccountType) -> None:
        super().__init__(holder_type)
        self.holder_type = holder_type


#: Longest email accepted (the SMTP limit); longer input is a 400, never stored.
MAX_EMAIL_LENGTH = 254


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The email as given, if usable as an account key.

    Any non-blank text up to MAX_EMAIL_LENGTH is accepted: the reference
    system never checked the format, and its load test registers random
    15-character strings as emails (API.md section 12).

    Raises:
        BadRequest: blank, or longer than MAX_EMAIL_LENGTH.
    """
    if not email.strip() or len(email) > MAX_EMAIL_LENGTH:
        raise BadRequest(f"email must be 1 to {MAX_EMAIL_LENGTH} characters, not blank")
    return email


def derive_user_id(seed: str) -> ObjectId:
    """The account id for a registration request: the same request, retried or
    redelivered, always gets the same id, so it can never create two accounts."""
    return ObjectId(hashlib.sha256(seed.encode()).digest()[:12])


@contextmanager
def mongo_errors() -> Iterator[None]:
    """Turns a lost database into `Unavailable` (503), which callers may retry."""
    try:
        yield
    except ConnectionFailure as error:
        raise Unavailable("The users database is unavailable") from error


class MongoUserStore:
    def __init__(self, database: Database[Document]) -> None:
        self._clients = database["client"]
        self._freelancers = database["Freelancer"]
        self._emails = database["emails"]

    def _collection(self, account_type: AccountType) -> Any:
        return self._clients if account_type == "CLIENT" else self._freelancers

    def ensure_indexes(self) -> None:
        with mongo_errors():
            self._clients.create_index("email", unique=True)
            self._freelancers.create_index("email", unique=True)

    def find_account(self, email: str) -> Account | None:
        """The client or else the freelancer with this email (API.md login order)."""
        address = normalise_email(email)
        with mongo_errors():
            for account_type in ("CLIENT", "FREELANCER"):
                found = self._collection(account_type).find_one({"email": address})
                if found is not None:
                    return Account(
                        account_type=account_type,
                        user_id=str(found["_id"]),
                        email=found["email"],
                        password_hash=found.get("password_hash", ""),
                    )
        return None

    def register(
        self, account_type: AccountType, user_id: ObjectId, document: Mapping[str, Any]
    ) -> None:
        """Stores a new account under `user_id`, claiming its email first.

        Safe to repeat with the same `user_id`: a redelivered registration
        finds its own claim and its own document and changes nothing.

        Raises:
            EmailTaken: another account holds the email.
            Unavailable: the database is gone.
        """
        email = normalise_email(str(document["email"]))
        with mongo_errors():
            self._claim_email(email, account_type, user_id)
            try:
                self._collection(account_type).insert_one(
                    {**document, "_id": user_id, "email": email}
                )
            except DuplicateKeyError:
                if self._collection(account_type).find_one({"_id": user_id}) is None:
                    raise
                # Already written by an earlier delivery of this request.

    def _claim_email(
        self, email: str, account_type: AccountType, user_id: ObjectId
    ) -> None:
        claim = {
            "_id": email,
            "user_id": user_id,
            "type": account_type,
            "claimed_at": dt.datetime.now(dt.UTC),
        }
        try:
            self._emails.insert_one(claim)
            return
        except DuplicateKeyError:
            holder = self._emails.find_one({"_id": email})
        if holder is None or holder["user_id"] == user_id:
            return
        if self._claim_abandoned(holder):
            replaced = self._emails.replace_one(
                {"_id": email, "user_id": holder["user_id"]}, claim
            )
            if replaced.modified_count == 1:
                return
        raise EmailTaken(holder["type"])

    def _claim_abandoned(self, holder: Document) -> bool:
        owner = self._collection(holder["type"]).find_one({"_id": holder["user_id"]})
        if owner is not None:
            return False
        claimed_at = holder["claimed_at"]
        if claimed_at.tzinfo is None:
            claimed_at = claimed_at.replace(tzinfo=dt.UTC)
        age_s = (dt.datetime.now(dt.UTC) - claimed_at).total_seconds()
        return bool(age_s > ABANDONED_CLAIM_AGE_S)
