"""Jobs and proposals as the service keeps them; no I/O here.

Enumerations are stored by their API.md names (`EXPERT`, `PENDING`), money
as `Decimal`, times as aware UTC datetimes. Ids of new records are derived
from the request that creates them (`derived_id`), so a redelivered or
retried create writes the same record instead of a second one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

#: Namespace of every id this service derives (uuid5).
JOBS_NAMESPACE = uuid.UUID("6f1d3c1e-2a55-4c1f-9a43-58f0c8f6a0b1")

PENDING = "PENDING"
ACCEPTED = "ACCEPTED"


def derived_id(*parts: str) -> uuid.UUID:
    """A stable id for the record that a request with these parts creates."""
    return uuid.uuid5(JOBS_NAMESPACE, "\x1f".join(parts))


def parse_uuid(text: str) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (API.md B21)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    client_id: str
    title: str | None
    description: str | None
    location: str | None
    budget: Decimal
    skills: tuple[str, ...]
    experience: str | None
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    #: The proposal whose acceptance closed the job, and its contract.
    accepted_proposal: uuid.UUID | None = None
    contract_id: str | None = None


@dataclass(frozen=True)
class Listing:
    """A job as lists show it (JobListingItem), and where it sorts."""

    id: uuid.UUID
    title: str | None
    description: str | None
    experience: str | None
    skills: tuple[str, ...]
    #: Partitioner token of the id: the order of search pages.
    token: int = 0


@dataclass(frozen=True)
class Attachment:
    name: str | None
    url: str | None


@dataclass(frozen=True)
class PlannedMilestone:
    description: str | None
    amount: Decimal
    due_date: dt.datetime | None


@dataclass(frozen=True)
class Proposal:
    id: uuid.UUID
    job_id: uuid.UUID
    freelancer_id: str
    cover_letter: str | None
    duration: str | None
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    attachments: tuple[Attachment, ...] = field(default=())
    milestones: tuple[PlannedMilestone, ...] = field(default=())


def money(value: float) -> Decimal:
    """A wire double as the Decimal a person typed (0.1 stays 0.1)."""
    return Decimal(repr(value))
