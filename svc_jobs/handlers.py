"""The jobs commands other than AcceptProposal (which has accept.py)."""

from __future__ import annotations

from common.errors import NotFound
from common.runtime.context import CommandContext, Handler
from svc_jobs.accept import ProposalAcceptance
from svc_jobs.messages import (
    attachments_of,
    checked_budget,
    checked_skills,
    duration_name,
    experience_name,
    job_response,
    listing_item,
    milestones_of,
    proposal_message,
)
from svc_jobs.model import PENDING, Job, Proposal, derived_id, parse_uuid
from svc_jobs.search import (
    checked_page_limit,
    decode_cursor,
    encode_cursor,
    query_words,
    words_of,
)
from svc_jobs.store import CassandraJobStore, now
from workup_pb import jobs_pb2 as pb


def request_key(context: CommandContext) -> str:
    """What makes this request unique across redeliveries and retries."""
    return context.idempotency_key or context.request_id


def job_handlers(store: CassandraJobStore) -> dict[str, Handler]:
    """Command name -> handler, for all eight jobs commands."""
    jobs = JobHandlers(store)
    return {
        "GetJobById": jobs.get_job_by_id,
        "CreateJob": jobs.create_job,
        "SearchJobs": jobs.search_jobs,
        "GetMyJobs": jobs.get_my_jobs,
        "CreateProposal": jobs.create_proposal,
        "GetProposalsByJobId": jobs.get_proposals_by_job_id,
        "GetMyProposals": jobs.get_my_proposals,
        "AcceptProposal": ProposalAcceptance(store),
    }


class JobHandlers:
    def __init__(self, store: CassandraJobStore) -> None:
        self._store = store

    def get_job_by_id(
        self, _context: CommandContext, request: pb.GetJobByIdRequest
    ) -> pb.GetJobByIdResponse:
        job_id = parse_uuid(request.job_id)
        job = self._store.job(job_id) if job_id else None
        if job is None:
            raise NotFound("Job not found")
        return job_response(job)

    def create_job(
        self, context: CommandContext, request: pb.CreateJobRequest
    ) -> pb.CreateJobResponse:
        created = now()
        job = Job(
            id=derived_id("CreateJob", request.user_id, request_key(context)),
            client_id=request.user_id,
            title=request.title if request.HasField("title") else None,
            description=(
                request.description if request.HasField("description") else None
            ),
            location=request.location if request.HasField("location") else None,
            budget=checked_budget(request.budget),
            skills=checked_skills(request.skills),
            experience=experience_name(request.experience),
            active=True,
            created_at=created,
            updated_at=created,
        )
        words = words_of([job.title, job.description, *job.skills])
        stored = self._store.insert_job(job, words)
        return pb.CreateJobResponse(job_id=str(stored.id))

    def search_jobs(
        self, _context: CommandContext, request: pb.SearchJobsRequest
    ) -> pb.SearchJobsResponse:
        words = query_words(request.query)
        limit = checked_page_limit(request.page_limit)
        after = decode_cursor(request.paging_state)
        # One row more than the page tells whether another page exists, so
        # the last page never hands out a cursor to an empty one.
        found = self._store.search(words, after, limit + 1)
        page = found[:limit]
        response = pb.SearchJobsResponse(jobs=[listing_item(job) for job in page])
        if len(found) > limit:
            response.paging_state = encode_cursor(page[-1].token)
        return response

    def get_my_jobs(
        self, _context: CommandContext, request: pb.GetMyJobsRequest
    ) -> pb.GetMyJobsResponse:
        listings = self._store.jobs_of_client(request.user_id)
        return pb.GetMyJobsResponse(jobs=[listing_item(job) for job in listings])

    def create_proposal(
        self, context: CommandContext, request: pb.CreateProposalRequest
    ) -> pb.CreateProposalResponse:
        milestones = milestones_of(request)
        attachments = attachments_of(request)
        job_id = parse_uuid(request.job_id)
        job = self._store.job(job_id) if job_id else None
        if job is None:
            raise NotFound("Job Not Found")
        created = now()
        proposal = Proposal(
            id=derived_id("CreateProposal", request.user_id, request_key(context)),
            job_id=job.id,
            freelancer_id=request.user_id,
            cover_letter=(
                request.cover_letter if request.HasField("cover_letter") else None
            ),
            duration=duration_name(request.job_duration),
            status=PENDING,
            created_at=created,
            updated_at=created,
            attachments=attachments,
            milestones=milestones,
        )
        stored = self._store.insert_proposal(proposal)
        return pb.CreateProposalResponse(id=str(stored.id))

    def get_proposals_by_job_id(
        self, _context: CommandContext, request: pb.GetProposalsByJobIdRequest
    ) -> pb.GetProposalsByJobIdResponse:
        job_id = parse_uuid(request.job_id)
        # An unknown job, or an id that is no UUID, has no proposals.
        proposals = self._store.proposals_of_job(job_id) if job_id else []
        return pb.GetProposalsByJobIdResponse(
            proposals=[proposal_message(p) for p in proposals]
        )

    def get_my_proposals(
        self, _context: CommandContext, request: pb.GetMyProposalsRequest
    ) -> pb.GetMyProposalsResponse:
        proposals = self._store.proposals_of_freelancer(request.user_id)
        return pb.GetMyProposalsResponse(
            proposals=[proposal_message(p) for p in proposals]
        )
