"""AcceptProposal: hire the freelancer, start the contract, close the job (X2).

Checks, in order: the proposal exists (404), its job exists (404), the
caller owns the job (401, API.md keeps 401 for compatibility; B7 moves this
check before the state checks so a stranger learns nothing about the
state), the proposal is PENDING (400), the job is active (400).

Then three conditional writes and one call, in this order:

1. Claim the job for this proposal (`IF active AND nobody claims it`), with
   a TTL. Only one proposal of a job can be on its way to a contract, so
   two proposals accepted at once never make two contracts.
2. InitiateContract on the contracts service. The contract id is derived
   there from the proposal id, so a retry, a redelivery or a concurrent
   second accept of the same proposal gets the same contract back.
3. Close the job for this proposal (`IF the claim is ours`), recording the
   contract; it leaves the search in the same write.
4. Move the proposal PENDING -> ACCEPTED (`IF status = PENDING`): of two
   concurrent accepts of one proposal, exactly one sees this apply; the
   other gets 400 "Proposal is not pending", as it would a moment later.

A failure before 4 leaves the proposal PENDING. If contracts answers with
an error, the claim is released at once and the client gets 500. If no
answer came (503 / 504), the contract may still appear, so the claim is
kept until it expires: meanwhile only this proposal can be accepted, and its
retry finds the same contract. A crash between 3 and 4 is finished by the
retry: the job is closed *for this proposal*, so step 4 runs again.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from common.errors import (
    BadRequest,
    DeadlineExceeded,
    NotFound,
    Unauthorized,
    Unavailable,
    WorkUpError,
)
from common.runtime.context import CommandContext, deadline_passed
from svc_jobs.model import PENDING, Job, Proposal, parse_uuid
from svc_jobs.store import CassandraJobStore
from workup_pb import contracts_pb2, jobs_pb2 as pb

logger = logging.getLogger(__name__)

#: Seconds a job stays claimed by an acceptance that never finished. Longer
#: than any call may take (the edge's deadline, WORKUP_RPC_TIMEOUT_S, is
#: 10 s by default), short enough that a crash blocks the job only briefly.
ACCEPT_CLAIM_TTL_S = 120

#: Seconds of the caller's deadline held back from the call to contracts, so
#: that when contracts does not answer we can still answer 503 in time.
CALL_RESERVE_S = 1.0

ACCEPT_FAILED = "An error occurred while accepting job proposal"
NOT_OWNER = "User is not the owner of this proposal's job!"
NOT_PENDING = "Proposal is not pending"
JOB_CLOSED = "This job is no longer active!"
CONTRACTS_DOWN = "The contracts service is unavailable; the proposal is still pending"


class ProposalAcceptance:
    """The AcceptProposal handler."""

    def __init__(
        self, store: CassandraJobStore, claim_ttl_s: int = ACCEPT_CLAIM_TTL_S
    ) -> None:
        self._store = store
        self._claim_ttl_s = claim_ttl_s

    def __call__(
        self, context: CommandContext, request: pb.AcceptProposalRequest
    ) -> pb.AcceptProposalResponse:
        proposal, job = self._load(request)
        if job.client_id != request.user_id:
            raise Unauthorized(NOT_OWNER)
        if proposal.status != PENDING:
            raise BadRequest(NOT_PENDING)

        contract_id = self._close_job(context, job, proposal)
        if not self._store.mark_accepted(job.id, proposal.id):
            raise BadRequest(NOT_PENDING)
        logger.info(
            "Accepted a proposal.",
            extra={"proposal_id": str(proposal.id), "contract_id": contract_id},
        )
        return accepted(job, proposal, contract_id)

    def _load(self, request: pb.AcceptProposalRequest) -> tuple[Proposal, Job]:
        job_id = parse_uuid(request.job_id)
        proposal_id = parse_uuid(request.proposal_id)
        proposal = None
        if job_id and proposal_id:
            proposal = self._store.proposal(job_id, proposal_id)
        if proposal is None:
            raise NotFound("Proposal not found")
        job = self._store.job(proposal.job_id)
        if job is None:
            raise NotFound("Job not found")
        return proposal, job

    def _close_job(self, context: CommandContext, job: Job, proposal: Proposal) -> str:
        """Closes the job for this proposal; returns the contract's id."""
        if not job.active:
            return self._closed_for(job, proposal)
        claim = self._store.claim_job(job.id, proposal.id, self._claim_ttl_s)
        # A claim held for this same proposal is a concurrent or crashed
        # accept of it: going on is safe, the contract id is the same.
        if not claim.won and claim.accepting_proposal != proposal.id:
            latest = self._store.job(job.id)
            return self._closed_for(latest or job, proposal)

        contract_id = self._start_contract(context, job, proposal)
        if not self._store.close_job(job.id, proposal.id, contract_id):
            logger.error(
                "Lost the claim on a job while its contract was made.",
                extra={"job_id": str(job.id), "contract_id": contract_id},
            )
            raise WorkUpError(ACCEPT_FAILED)
        return contract_id

    def _closed_for(self, job: Job, proposal: Proposal) -> str:
        """The contract of a job already closed for this proposal (a retry)."""
        if job.accepted_proposal == proposal.id and job.contract_id:
            return job.contract_id
        raise BadRequest(JOB_CLOSED)

    def _start_contract(
        self, context: CommandContext, job: Job, proposal: Proposal
    ) -> str:
        if context.call is None:
            raise Unavailable(CONTRACTS_DOWN)
        try:
            response = context.call(
                "InitiateContract",
                initiate_contract_request(job, proposal),
                contracts_pb2.InitiateContractResponse,
                with_reserve(context),
            )
        except (Unavailable, DeadlineExceeded) as error:
            raise Unavailable(CONTRACTS_DOWN) from error
        except WorkUpError as error:
            self._refused(job, proposal, error.message)
            raise WorkUpError(ACCEPT_FAILED) from error
        if not response.contract_id:
            self._refused(job, proposal, "no contract id in the reply")
            raise WorkUpError(ACCEPT_FAILED)
        return response.contract_id

    def _refused(self, job: Job, proposal: Proposal, reason: str | None) -> None:
        logger.warning(
            "The contracts service refused a contract.",
            extra={"proposal_id": str(proposal.id), "reason": reason},
        )
        self._store.release_claim(job.id, proposal.id)


def with_reserve(context: CommandContext) -> CommandContext:
    """The context for a call that must give up CALL_RESERVE_S early.

    Raises:
        DeadlineExceeded: not even that much time is left.
    """
    if not context.deadline_unix_ms:
        return context
    earlier = context.deadline_unix_ms - int(CALL_RESERVE_S * 1000)
    if deadline_passed(earlier):
        raise DeadlineExceeded("No time is left for the call")
    return replace(context, deadline_unix_ms=earlier)


def initiate_contract_request(
    job: Job, proposal: Proposal
) -> contracts_pb2.InitiateContractRequest:
    return contracts_pb2.InitiateContractRequest(
        user_id=job.client_id,
        job_title=job.title,
        job_id=str(job.id),
        proposal_id=str(proposal.id),
        freelancer_id=proposal.freelancer_id,
        client_id=job.client_id,
        job_milestones=[
            contracts_pb2.ContractMilestoneInput(
                description=milestone.description,
                due_date=milestone.due_date.isoformat() if milestone.due_date else None,
                amount=float(milestone.amount),
            )
            for milestone in proposal.milestones
        ],
    )


def accepted(
    job: Job, proposal: Proposal, contract_id: str
) -> pb.AcceptProposalResponse:
    return pb.AcceptProposalResponse(
        message="Proposal Accepted Successfully!",
        job=pb.AcceptedJob(id=str(job.id), active=False),
        proposal=pb.AcceptedProposal(
            id=str(proposal.id), status=pb.ProposalStatus.ACCEPTED
        ),
        contract_id=contract_id,
    )
