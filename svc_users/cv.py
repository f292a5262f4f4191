"""A freelancer's CV items: achievements, education and experience.

The three kinds behave alike, so one table (`CV_KINDS`) describes each kind
and one set of handlers serves all three. Every item records its owner:
reads list only the caller's items, and an update or removal names the item
and the owner together, so another freelancer's item is never read, changed
or deleted (API.md B3). An unknown or foreign id changes nothing and still
answers 200, as the reference system does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from google.protobuf.message import Message
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common.dates import parse_date
from common.errors import BadRequest, NotFound
from common.runtime.context import CommandContext, Handler
from svc_users.store import Document, derive_user_id, mongo_errors
from workup_pb import users_pb2 as pb

#: Longest text accepted in one CV field.
MAX_FIELD_LENGTH = 2000
#: Most items of one kind a freelancer may keep.
MAX_ITEMS_PER_KIND = 200


@dataclass(frozen=True)
class CvKind:
    """One kind of CV item: where it lives and which fields it has."""

    #: Command-name stem: Add<stem>, Get<plural>, Update<stem>, Remove<stem>.
    stem: str
    plural: str
    collection: str
    item_type: type[Message]
    #: The response field of the list command (e.g. "achievements").
    list_field: str
    #: The request field naming the item in update and remove.
    id_field: str
    text_fields: tuple[str, ...]
    date_fields: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.text_fields + self.date_fields


CV_KINDS = (
    CvKind(
        stem="FreelancerAchievement",
        plural="FreelancerAchievements",
        collection="Achievements",
        item_type=pb.CvAchievement,
        list_field="achievements",
        id_field="achievement_id",
        text_fields=("achievement_name", "awarded_by", "achievement_description"),
        date_fields=("award_date",),
    ),
    CvKind(
        stem="FreelancerEducation",
        plural="FreelancerEducations",
        collection="Education",
        item_type=pb.CvEducation,
        list_field="educations",
        id_field="education_id",
        text_fields=(
            "school_name",
            "degree",
            "city",
            "major",
            "education_description",
            "grade",
        ),
        date_fields=("education_start_date", "end_date"),
    ),
    CvKind(
        stem="FreelancerExperience",
        plural="FreelancerExperiences",
        collection="Experience",
        item_type=pb.CvExperience,
        list_field="experiences",
        id_field="experience_id",
        text_fields=("company_name", "job_title", "experience_description", "city"),
        date_fields=("employment_start", "employment_end"),
    ),
)


class CvHandlers:
    """Add, list, update and remove for every kind in CV_KINDS."""

    def __init__(self, database: Database[Document]) -> None:
        self._database = database
        self._freelancers = database["Freelancer"]

    def ensure_indexes(self) -> None:
        with mongo_errors():
            for kind in CV_KINDS:
                self._database[kind.collection].create_index(
                    [("owner", ASCENDING), ("created_at", ASCENDING)]
                )

    def handlers(self) -> dict[str, Handler]:
        """Command name -> handler, for all twelve CV commands."""
        table: dict[str, Handler] = {}
        for kind in CV_KINDS:
            table[f"Add{kind.stem}"] = self._bind(self.add, kind)
            table[f"Get{kind.plural}"] = self._bind(self.list, kind)
            table[f"Update{kind.stem}"] = self._bind(self.update, kind)
            table[f"Remove{kind.stem}"] = self._bind(self.remove, kind)
        return table

    @staticmethod
    def _bind(
        method: Callable[[CvKind, CommandContext, Any], Message], kind: CvKind
    ) -> Handler:
        def handle(context: CommandContext, request: Any) -> Message:
            return method(kind, context, request)

        return handle

    def add(self, kind: CvKind, context: CommandContext, request: Any) -> Message:
        owner = self._existing_freelancer(request.user_id)
        values = _values(kind, request, prefix="")
        items = self._database[kind.collection]
        # Derived from the request, so a redelivered add cannot append twice.
        item_id = derive_user_id(f"{context.idempotency_key or context.request_id}")
        with mongo_errors():
            if items.count_documents({"owner": owner}) >= MAX_ITEMS_PER_KIND:
                raise BadRequest(f"At most {MAX_ITEMS_PER_KIND} items of this kind")
            # A duplicate id means an earlier delivery of this request added it.
            with contextlib.suppress(DuplicateKeyError):
                items.insert_one(
                    {
                        **values,
                        "_id": item_id,
                        "owner": owner,
                        "created_at": dt.datetime.now(dt.UTC),
                    }
                )
        return _response(kind, "Add")

    def list(self, kind: CvKind, context: CommandContext, request: Any) -> Message:
        owner = self._existing_freelancer(request.user_id)
        with mongo_errors():
            found = list(
                self._database[kind.collection]
                .find({"owner": owner})
                .sort("created_at", ASCENDING)
            )
        response: Message = getattr(pb, f"Get{kind.plural}Response")()
        for document in found:
            getattr(response, kind.list_field).append(_item(kind, document))
        return response

    def update(self, kind: CvKind, context: CommandContext, request: Any) -> Message:
        owner = self._existing_freelancer(request.user_id)
        values = _values(kind, request, prefix="new_")
        item_id = _object_id(getattr(request, kind.id_field))
        if item_id is not None and values:
            with mongo_errors():
                self._database[kind.collection].update_one(
                    {"_id": item_id, "owner": owner}, {"$set": values}
                )
        return _response(kind, "Update")

    def remove(self, kind: CvKind, context: CommandContext, request: Any) -> Message:
        owner = self._existing_freelancer(request.user_id)
        item_id = _object_id(getattr(request, kind.id_field))
        if item_id is not None:
            with mongo_errors():
                self._database[kind.collection].delete_one(
                    {"_id": item_id, "owner": owner}
                )
        return _response(kind, "Remove")

    def _existing_freelancer(self, user_id: str) -> ObjectId:
        freelancer_id = _object_id(user_id)
        with mongo_errors():
            exists = freelancer_id is not None and self._freelancers.count_documents(
                {"_id": freelancer_id}, limit=1
            )
        if not exists or freelancer_id is None:
            raise NotFound("Freelancer Doesn't Exist")
        return freelancer_id


def _object_id(text: str) -> ObjectId | None:
    try:
        return ObjectId(text)
    except (InvalidId, TypeError):
        return None


def _values(kind: CvKind, request: Any, *, prefix: str) -> dict[str, Any]:
    """The fields the request sets, validated, under their stored names."""
    values: dict[str, Any] = {}
    for field in kind.fields:
        name = prefix + field
        if not request.HasField(name):
            continue
        text: str = getattr(request, name)
        if field in kind.date_fields:
            values[field] = parse_date(text, name)
        elif len(text) > MAX_FIELD_LENGTH:
            raise BadRequest(f"{name} must be at most {MAX_FIELD_LENGTH} characters")
        else:
            values[field] = text
    return values


def _item(kind: CvKind, document: Document) -> Message:
    item = kind.item_type()
    setattr(item, "id", str(document["_id"]))  # noqa: B010 - Message has no id
    for field in kind.text_fields:
        if document.get(field) is not None:
            setattr(item, field, document[field])
    for field in kind.date_fields:
        when = document.get(field)
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            getattr(item, field).FromDatetime(when)
    return item


def _response(kind: CvKind, verb: str) -> Message:
    response_type: type[Message] = getattr(pb, f"{verb}{kind.stem}Response")
    return response_type()
