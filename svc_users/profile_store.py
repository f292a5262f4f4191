"""Profile reads and writes on the users service's MongoDB collections.

Works on the collections `svc_users.store` owns (`client`, `Freelancer`,
`emails`), with the same field names, plus `account_locks`.

Why every write takes a lock: FerretDB 1.24 on PostgreSQL (our users
database) runs an update as read the document, change it in memory, write
the whole document back, without checking the filter again. Two concurrent
updates of one document therefore lose one of them, even `$push` or `$set`
of different fields, and a compare-and-set filter guarantees nothing. The
one write it does make atomic is inserting a unique `_id`, so accounts are
locked by inserting into `account_locks`, and email addresses are claimed by
inserting into `emails`. On MongoDB the lock costs two round trips and
changes nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

from common.errors import Unavailable
from svc_users.store import (
    ABANDONED_CLAIM_AGE_S,
    AccountType,
    Document,
    EmailTaken,
    mongo_errors,
    normalise_email,
)

logger = logging.getLogger(__name__)

ListField = Literal["skills", "languages"]

#: Seconds a writer waits for another writer of the same account before a 503.
LOCK_WAIT_S = 5.0
#: Seconds after which a lock its holder never released (it died) may be
#: broken; far above the few milliseconds a locked write takes.
LOCK_LEASE_S = 15.0
#: Seconds between two attempts to take a busy lock.
LOCK_POLL_S = 0.005
#: Attempts to claim an email whose claim keeps changing hands before a 503.
MAX_CLAIM_ATTEMPTS = 5


class MongoAccountLocks:
    """One writer at a time per account, across every instance of the service.

    Any code that updates a `client` or `Freelancer` document should hold
    the account's lock, or FerretDB may silently drop its write or another's.
    """

    def __init__(
        self,
        collection: Collection[Document],
        *,
        wait_s: float = LOCK_WAIT_S,
        lease_s: float = LOCK_LEASE_S,
    ) -> None:
        self._locks = collection
        self._wait_s = wait_s
        self._lease_s = lease_s

    @contextmanager
    def hold(self, user_id: ObjectId) -> Iterator[None]:
        """Holds the account's lock for the body of the `with` block.

        Raises:
            Unavailable: another writer held it for the whole wait, or the
                database is gone.
        """
        token = self._acquire(user_id)
        try:
            yield
        finally:
            self._locks.delete_one({"_id": user_id, "token": token})

    def _acquire(self, user_id: ObjectId) -> ObjectId:
        token = ObjectId()
        give_up_at = time.monotonic() + self._wait_s
        while True:
            now = dt.datetime.now(dt.UTC)
            lock = {
                "_id": user_id,
                "token": token,
                "expires_at": now + dt.timedelta(seconds=self._lease_s),
            }
            try:
                self._locks.insert_one(lock)
                return token
            except DuplicateKeyError:
                held = self._locks.find_one({"_id": user_id})
            if held is not None and _as_utc(held["expires_at"]) < now:
                self._break(held)
                continue
            if time.monotonic() > give_up_at:
                raise Unavailable("The account is busy with another change; try again")
            time.sleep(LOCK_POLL_S)

    def _break(self, held: Document) -> None:
        # Only the waiter that inserts the marker deletes the expired lock:
        # a second deleter could otherwise remove the lock a third writer
        # took in between, since FerretDB deletes by _id without rechecking.
        if not _first_to_mark(self._locks, f"break:{held['_id']}:{held['token']}"):
            return
        logger.warning(
            "Broke an expired account lock; its holder never released it.",
            extra={"user_id": str(held["_id"])},
        )
        self._locks.delete_one({"_id": held["_id"], "token": held["token"]})


class MongoProfileStore:
    """Profiles, links and skill or language lists of clients and freelancers."""

    def __init__(
        self,
        database: Database[Document],
        *,
        lock_wait_s: float = LOCK_WAIT_S,
        lock_lease_s: float = LOCK_LEASE_S,
    ) -> None:
        self._accounts: dict[AccountType, Collection[Document]] = {
            "CLIENT": database["client"],
            "FREELANCER": database["Freelancer"],
        }
        self._emails = database["emails"]
        self._markers = database["account_locks"]
        self._locks = MongoAccountLocks(
            self._markers, wait_s=lock_wait_s, lease_s=lock_lease_s
        )

    def find(
        self, account_type: AccountType, user_id: ObjectId, fields: Sequence[str]
    ) -> Document | None:
        """The account's document cut down to `fields`, or None if there is none.

        Raises:
            Unavailable: the database is gone.
        """
        with mongo_errors():
            return self._accounts[account_type].find_one(
                {"_id": user_id}, dict.fromkeys(fields, 1)
            )

    def update_profile(
        self,
        account_type: AccountType,
        user_id: ObjectId,
        changes: Mapping[str, Any],
        *,
        email: str | None = None,
    ) -> bool:
        """Sets `changes` on the account, and moves it to `email` if one is given.

        A new address is claimed in `emails` before the document changes and
        the old claim is dropped after, so no two accounts can hold one
        address at any moment, and a failed claim leaves everything as it was.

        Returns:
            False when the account does not exist.

        Raises:
            EmailTaken: another account holds `email`.
            Unavailable: the database is gone, or the account stayed busy.
        """
        accounts = self._accounts[account_type]
        with mongo_errors(), self._locks.hold(user_id):
            current = accounts.find_one({"_id": user_id}, {"email": 1})
            if current is None:
                return False
            old_email = current.get("email")
            new_email = None if email is None else normalise_email(email)
            if new_email is not None and new_email != old_email:
                self._move_email(account_type, user_id, old_email, new_email, changes)
            elif changes:
                accounts.update_one({"_id": user_id}, {"$set": dict(changes)})
            return True

    def list_items(self, user_id: ObjectId, field: ListField) -> list[str] | None:
        """The freelancer's skills or languages in order, or None if no freelancer.

        Raises:
            Unavailable: the database is gone.
        """
        found = self.find("FREELANCER", user_id, [field])
        if found is None:
            return None
        # Orig left these lists null until the first add (API.md B2).
        return list(found.get(field) or [])

    def add_item(
        self, user_id: ObjectId, field: ListField, value: str, *, unique: bool
    ) -> bool:
        """Appends `value`; with `unique`, only when no element equals it exactly.

        Returns:
            False when the freelancer does not exist.

        Raises:
            Unavailable: the database is gone, or the account stayed busy.
        """
        freelancers = self._accounts["FREELANCER"]
        with mongo_errors(), self._locks.hold(user_id):
            found = freelancers.find_one({"_id": user_id}, {field: 1})
            if found is None:
                return False
            items = found.get(field)
            if not isinstance(items, list):
                # Orig left the list null until the first add (API.md B2).
                update: Document = {"$set": {field: [value]}}
            elif unique:
                update = {"$addToSet": {field: value}}
            else:
                update = {"$push": {field: value}}
            freelancers.update_one({"_id": user_id}, update)
            return True

    def remove_first(self, user_id: ObjectId, field: ListField, value: str) -> bool:
        """Removes the first element equal to `value`; an absent value is no error.

        `$pull` would drop every equal element, and languages may repeat, so
        the list is read and written back under the account's lock.

        Returns:
            False when the freelancer does not exist.

        Raises:
            Unavailable: the database is gone, or the account stayed busy.
        """
        freelancers = self._accounts["FREELANCER"]
        with mongo_errors(), self._locks.hold(user_id):
            found = freelancers.find_one({"_id": user_id}, {field: 1})
            if found is None:
                return False
            items = list(found.get(field) or [])
            if value in items:
                items.remove(value)
                freelancers.update_one({"_id": user_id}, {"$set": {field: items}})
            return True

    def _move_email(
        self,
        account_type: AccountType,
        user_id: ObjectId,
        old_email: str | None,
        new_email: str,
        changes: Mapping[str, Any],
    ) -> None:
        self._claim(new_email, account_type, user_id)
        try:
            self._accounts[account_type].update_one(
                {"_id": user_id}, {"$set": {**changes, "email": new_email}}
            )
        except OperationFailure as error:
            if not _duplicate_key(error):
                raise
            # An account written before `emails` existed holds the address.
            self._emails.delete_one({"_id": new_email, "user_id": user_id})
            raise EmailTaken(account_type) from None
        self._emails.delete_one({"_id": old_email, "user_id": user_id})

    def _claim(self, email: str, account_type: AccountType, user_id: ObjectId) -> None:
        """Claims `email` for the account with a fresh claim.

        A claim of this account that its document does not use, or another
        account's claim left behind long ago, is dropped and claimed anew.
        """
        for _ in range(MAX_CLAIM_ATTEMPTS):
            try:
                self._emails.insert_one(
                    {
                        "_id": email,
                        "user_id": user_id,
                        "type": account_type,
                        "claimed_at": dt.datetime.now(dt.UTC),
                    }
                )
                return
            except DuplicateKeyError:
                holder = self._emails.find_one({"_id": email})
            if holder is None:
                continue
            if holder["user_id"] != user_id and not self._claim_abandoned(holder):
                raise EmailTaken(holder["type"])
            self._drop_claim(holder)
        raise Unavailable("The email claim kept changing hands; try again")

    def _claim_abandoned(self, holder: Document) -> bool:
        """Whether a claim's account does not hold the address, and has not for
        longer than any change or registration takes to finish."""
        owner = self._accounts[holder["type"]].find_one(
            {"_id": holder["user_id"]}, {"email": 1}
        )
        owner_email = normalise_email(owner.get("email") or "") if owner else None
        if owner_email == holder["_id"]:
            return False
        claimed_at = _as_utc(holder["claimed_at"])
        age_s = (dt.datetime.now(dt.UTC) - claimed_at).total_seconds()
        return age_s > ABANDONED_CLAIM_AGE_S

    def _drop_claim(self, holder: Document) -> None:
        # Claims have no version field, so (holder, claimed_at) names this
        # one; the marker lets exactly one of the writers that found it
        # delete it (see MongoAccountLocks._break for why).
        claimed_at = _as_utc(holder["claimed_at"]).isoformat()
        marker = f"claim:{holder['_id']}:{holder['user_id']}:{claimed_at}"
        if not _first_to_mark(self._markers, marker):
            return
        self._emails.delete_one(
            {
                "_id": holder["_id"],
                "user_id": holder["user_id"],
                "claimed_at": holder["claimed_at"],
            }
        )


def _first_to_mark(collection: Collection[Document], marker: str) -> bool:
    """Inserts a one-off marker; True only for the one caller whose insert won.

    Markers stay behind: there is one per broken lock or dropped claim, both
    rare (a writer died), and a marker that is gone could be won twice.
    """
    try:
        collection.insert_one({"_id": marker, "at": dt.datetime.now(dt.UTC)})
    except DuplicateKeyError:
        return False
    return True


def _duplicate_key(error: OperationFailure) -> bool:
    """Whether a write broke a unique index.

    FerretDB 1.24 reports that as an InternalError carrying PostgreSQL's
    unique_violation state, not as MongoDB's DuplicateKeyError, on updates.
    """
    return isinstance(error, DuplicateKeyError) or "SQLSTATE 23505" in str(error)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    """pymongo returns naive UTC datetimes unless the client is tz-aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
