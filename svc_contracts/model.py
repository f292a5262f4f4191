"""Contracts, milestones and termination requests, and their rules; no I/O.

States are stored by their API.md names. Ids of new records are derived
(uuid5), never drawn: a contract from its proposal, its milestones from
their place in it, a termination request from its requester and request,
so a retried or redelivered create writes the same record again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

#: Namespace of every id this service derives.
CONTRACTS_NAMESPACE = uuid.UUID("0b7c3d52-9e0f-4a8e-bb1d-2f64d8e9c7a3")

ADMIN = "ADMIN"

# Contract states.
ACTIVE = "ACTIVE"
TERMINATED = "TERMINATED"

# Milestone states.
OPEN = "OPEN"
IN_PROGRESS = "IN_PROGRESS"
IN_REVIEW = "IN_REVIEW"
ACCEPTED = "ACCEPTED"
PAID = "PAID"

# Termination request states (ACCEPTED is shared with milestones).
PENDING = "PENDING"
REJECTED = "REJECTED"

#: What ProgressMilestone moves a milestone to, by its current state.
NEXT_PROGRESS = {OPEN: IN_PROGRESS, IN_PROGRESS: IN_REVIEW}
#: The verdicts a client may give on a milestone IN_REVIEW (API.md B14).
EVALUATION_VERDICTS = frozenset({ACCEPTED, IN_PROGRESS})
#: The decisions an administrator may take on a request (API.md B16).
TERMINATION_DECISIONS = frozenset({ACCEPTED, REJECTED})


def contract_id_for(proposal_id: str) -> uuid.UUID:
    """One contract per proposal: every caller derives the same id."""
    return uuid.uuid5(CONTRACTS_NAMESPACE, f"contract\x1f{proposal_id}")


def milestone_id_for(contract_id: uuid.UUID, position: int) -> uuid.UUID:
    return uuid.uuid5(contract_id, f"milestone\x1f{position}")


def termination_id_for(requester_id: str, request_key: str) -> uuid.UUID:
    return uuid.uuid5(
        CONTRACTS_NAMESPACE, f"termination\x1f{requester_id}\x1f{request_key}"
    )


def parse_uuid(text: str) -> uuid.UUID | None:
    """The UUID in `text`, or None when it is not one (API.md B21)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def money(value: float) -> Decimal:
    """A wire double as the Decimal a person typed (0.1 stays 0.1)."""
    return Decimal(repr(value))


@dataclass(frozen=True)
class Contract:
    id: uuid.UUID
    job_id: str
    proposal_id: str
    job_title: str | None
    freelancer_id: str
    client_id: str
    milestone_ids: tuple[str, ...]
    status: str
    created_at: dt.datetime
    #: Requester -> their PENDING termination request (at most one each).
    pending_terminations: dict[str, uuid.UUID] = field(default_factory=dict)

    def has_party(self, user_id: str) -> bool:
        return bool(user_id) and user_id in (self.client_id, self.freelancer_id)

    def may_be_read_by(self, user_id: str, role: str) -> bool:
        """The parties read a contract, and the administrator (API.md B18)."""
        return role == ADMIN or self.has_party(user_id)


@dataclass(frozen=True)
class Milestone:
    id: uuid.UUID
    contract_id: uuid.UUID
    position: int
    description: str | None
    due_date: dt.datetime | None
    amount: Decimal
    status: str
    #: The request that made the last change, so its redelivery is a no-op.
    last_change: str | None = None


@dataclass(frozen=True)
class TerminationRequest:
    id: uuid.UUID
    contract_id: uuid.UUID
    requester_id: str
    reason: str | None
    status: str
    created_at: dt.datetime
    last_change: str | None = None


@dataclass(frozen=True)
class ContractFile:
    """A contract with everything under it, as one partition read gives it."""

    contract: Contract
    milestones: tuple[Milestone, ...]
    terminations: tuple[TerminationRequest, ...]

    def milestones_in_order(self) -> list[Milestone]:
        """In the order of the accepted proposal."""
        return sorted(self.milestones, key=lambda m: m.position)

    def pending_terminations(self) -> list[TerminationRequest]:
        """Oldest first."""
        pending = [t for t in self.terminations if t.status == PENDING]
        return sorted(pending, key=lambda t: (t.created_at, t.id))
