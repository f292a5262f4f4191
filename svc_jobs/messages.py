"""Records to and from the jobs protos: enum names, money and timestamps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from common.dates import parse_date
from common.errors import BadRequest
from svc_jobs.model import (
    Attachment,
    Job,
    Listing,
    PlannedMilestone,
    Proposal,
    money,
)
from workup_pb import jobs_pb2 as pb

#: Most skills one job may list.
MAX_SKILLS = 100
#: Most milestones, and most attachments, one proposal may carry.
MAX_PROPOSAL_ITEMS = 100


def timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def experience_name(value: pb.Experience.Value.ValueType) -> str | None:
    """The stored name of a request's Experience, None when unset."""
    if value == pb.Experience.EXPERIENCE_UNSPECIFIED:
        return None
    return pb.Experience.Value.Name(value)


def duration_name(value: pb.JobDuration.Value.ValueType) -> str | None:
    if value == pb.JobDuration.JOB_DURATION_UNSPECIFIED:
        return None
    return pb.JobDuration.Value.Name(value)


def job_response(job: Job) -> pb.GetJobByIdResponse:
    return pb.GetJobByIdResponse(
        id=str(job.id),
        title=job.title,
        description=job.description,
        location=job.location,
        budget=float(job.budget),
        skills=job.skills,
        experience=_experience(job.experience),
        client_id=job.client_id,
        active=job.active,
        created_at=timestamp(job.created_at),
        modified_at=timestamp(job.updated_at),
    )


def listing_item(listing: Listing) -> pb.JobListingItem:
    return pb.JobListingItem(
        id=str(listing.id),
        title=listing.title,
        description=listing.description,
        experience=_experience(listing.experience),
        skills=listing.skills,
    )


def proposal_message(proposal: Proposal) -> pb.Proposal:
    return pb.Proposal(
        id=str(proposal.id),
        job_id=str(proposal.job_id),
        freelancer_id=proposal.freelancer_id,
        cover_letter=proposal.cover_letter,
        status=pb.ProposalStatus.Value.Value(proposal.status),
        created_at=timestamp(proposal.created_at),
        modified_at=timestamp(proposal.updated_at),
        duration=_duration(proposal.duration),
        attachments=[
            pb.Attachment(name=a.name, url=a.url) for a in proposal.attachments
        ],
        milestones=[
            pb.ProposalMilestone(
                description=m.description,
                amount=float(m.amount),
                due_date=timestamp(m.due_date),
            )
            for m in proposal.milestones
        ],
    )


def checked_skills(skills: Iterable[str]) -> tuple[str, ...]:
    listed = tuple(skills)
    if len(listed) > MAX_SKILLS:
        raise BadRequest(f"a job may list at most {MAX_SKILLS} skills")
    return listed


def checked_budget(budget: float) -> Decimal:
    if budget < 0:
        raise BadRequest("budget must not be negative")
    return money(budget)


def attachments_of(request: pb.CreateProposalRequest) -> tuple[Attachment, ...]:
    if len(request.attachments) > MAX_PROPOSAL_ITEMS:
        raise BadRequest(
            f"a proposal may have at most {MAX_PROPOSAL_ITEMS} attachments"
        )
    return tuple(
        Attachment(name=_optional(a, "name"), url=_optional(a, "url"))
        for a in request.attachments
    )


def milestones_of(request: pb.CreateProposalRequest) -> tuple[PlannedMilestone, ...]:
    """The planned milestones of a new proposal.

    Raises:
        BadRequest: too many, a negative amount, or a due date that is no date.
    """
    if len(request.milestones) > MAX_PROPOSAL_ITEMS:
        raise BadRequest(f"a proposal may have at most {MAX_PROPOSAL_ITEMS} milestones")
    return tuple(_milestone(m) for m in request.milestones)


def _milestone(milestone: pb.ProposalMilestoneInput) -> PlannedMilestone:
    if milestone.amount < 0:
        raise BadRequest("milestones.amount must not be negative")
    due_date = None
    if milestone.HasField("due_date"):
        due_date = parse_date(milestone.due_date, "milestones.dueDate")
    return PlannedMilestone(
        description=_optional(milestone, "description"),
        amount=money(milestone.amount),
        due_date=due_date,
    )


def _optional(message: Message, name: str) -> str | None:
    return str(getattr(message, name)) if message.HasField(name) else None


def _experience(name: str | None) -> pb.Experience.Value.ValueType:
    if name is None:
        return pb.Experience.EXPERIENCE_UNSPECIFIED
    return pb.Experience.Value.Value(name)


def _duration(name: str | None) -> pb.JobDuration.Value.ValueType:
    if name is None:
        return pb.JobDuration.JOB_DURATION_UNSPECIFIED
    return pb.JobDuration.Value.Value(name)
