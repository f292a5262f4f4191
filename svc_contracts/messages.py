"""Records to the contracts protos: enum names, money and timestamps."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from svc_contracts.model import Contract, Milestone, TerminationRequest
from workup_pb import contracts_pb2 as pb


def timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def contract_response(contract: Contract) -> pb.GetContractResponse:
    return pb.GetContractResponse(
        contract_id=str(contract.id),
        job_title=contract.job_title,
        job_id=contract.job_id,
        proposal_id=contract.proposal_id,
        freelancer_id=contract.freelancer_id,
        client_id=contract.client_id,
        milestones_ids=contract.milestone_ids,
        status=pb.ContractState.Value.Value(contract.status),
    )


def milestone_message(milestone: Milestone) -> pb.ContractMilestone:
    return pb.ContractMilestone(
        milestone_id=str(milestone.id),
        contract_id=str(milestone.contract_id),
        description=milestone.description,
        due_date=timestamp(milestone.due_date),
        amount=float(milestone.amount),
        status=pb.MilestoneState.Value.Value(milestone.status),
    )


def milestone_response(milestone: Milestone) -> pb.GetMilestoneResponse:
    return pb.GetMilestoneResponse(
        milestone_id=str(milestone.id),
        contract_id=str(milestone.contract_id),
        description=milestone.description,
        due_date=timestamp(milestone.due_date),
        amount=float(milestone.amount),
        status=pb.MilestoneState.Value.Value(milestone.status),
    )


def termination_message(request: TerminationRequest) -> pb.TerminationRequest:
    return pb.TerminationRequest(
        request_id=str(request.id),
        contract_id=str(request.contract_id),
        requester_id=request.requester_id,
        reason=request.reason,
        status=pb.TerminationRequestStatus.Value.Value(request.status),
    )


def milestone_state_name(value: pb.MilestoneState.Value.ValueType) -> str | None:
    """The stored name of a request's MilestoneState; None when unset."""
    if value == pb.MilestoneState.MILESTONE_STATE_UNSPECIFIED:
        return None
    return pb.MilestoneState.Value.Name(value)


def termination_status_name(
    value: pb.TerminationRequestStatus.Value.ValueType,
) -> str | None:
    if value == pb.TerminationRequestStatus.TERMINATION_REQUEST_STATUS_UNSPECIFIED:
        return None
    return pb.TerminationRequestStatus.Value.Name(value)
