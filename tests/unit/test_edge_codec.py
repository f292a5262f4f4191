"""JSON <-> protobuf at the edge: request building, 400 messages, rendering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from datetime import datetime

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from common.errors import BadRequest
from edge import codec
from edge.routes import Route, build_route_table
from workup_pb import contracts_pb2, jobs_pb2, payments_pb2, users_pb2
from workup_pb.envelope_pb2 import Envelope, Reply

TABLE = build_route_table()


def route(method: str, path: str) -> Route:
    return TABLE.resolve(method, path).route


def build(
    method: str,
    path: str,
    body: Mapping[str, object] | None = None,
    *,
    query: Iterable[tuple[str, str]] = (),
    caller_id: str = "caller-1",
) -> Message:
    match = TABLE.resolve(method, path)
    return codec.build_request(
        match.route,
        body=body,
        query=query,
        path_params=match.path_params,
        caller_id=caller_id,
    )


def problem(
    method: str,
    path: str,
    body: Mapping[str, object] | None = None,
    query: Iterable[tuple[str, str]] = (),
) -> str:
    """The 400 message that building this request gives."""
    with pytest.raises(BadRequest) as caught:
        build(method, path, body, query=query)
    assert caught.value.status == 400
    assert caught.value.message is not None
    return caught.value.message


def timestamp(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text))
    return stamp


# --- decoding the body -------------------------------------------------------


def test_a_json_object_decodes() -> None:
    assert codec.decode_json_object(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"title": "x",}', "Malformed JSON body: Expecting property name"),
        (b"{", "Malformed JSON body"),
        (b"\xff\xfe\x00", "Malformed JSON body"),
        (b'{"budget": NaN}', "NaN is not a JSON value"),
        (b'{"budget": -Infinity}', "-Infinity is not a JSON value"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"n": ' + b"1" * 5000 + b"}", "a number has too many digits"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b'"text"', "must be a JSON object, not a string"),
        (b"42", "must be a JSON object, not a number"),
        (b"null", "must be a JSON object, not null"),
        (b"true", "must be a JSON object, not a boolean"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(raw: bytes, expected: str) -> None:
    with pytest.raises(BadRequest, match=expected.replace("(", r"\(")):
        codec.decode_json_object(raw)


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(BadRequest) as caught:
        codec.decode_json_object(b'{\n  "a": }')

    assert caught.value.message == (
        "Malformed JSON body: Expecting value at line 2 column 8"
    )


# --- building requests -------------------------------------------------------


def test_a_body_fills_the_request_under_json_names() -> None:
    request = build(
        "POST",
        "/api/v1/jobs",
        {
            "title": "Logo",
            "budget": 100,
            "skills": ["design", "svg"],
            "experience": "EXPERT",
        },
    )

    assert request == jobs_pb2.CreateJobRequest(
        user_id="caller-1",
        title="Logo",
        budget=100.0,
        skills=["design", "svg"],
        experience=jobs_pb2.Experience.EXPERT,
    )


def test_unknown_properties_and_nulls_are_ignored() -> None:
    request = build(
        "POST", "/api/v1/jobs", {"color": "red", "title": None, "nested": {"a": 1}}
    )

    assert request == jobs_pb2.CreateJobRequest(user_id="caller-1")
    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert not request.HasField("title")


def test_proto_names_are_accepted_too() -> None:
    request = build(
        "POST",
        "/api/v1/jobs/j-1/proposals",
        {"cover_letter": "Hi", "job_duration": "LESS_THAN_A_MONTH"},
    )

    assert isinstance(request, jobs_pb2.CreateProposalRequest)
    assert request.cover_letter == "Hi"
    assert request.job_duration == jobs_pb2.JobDuration.LESS_THAN_A_MONTH


def test_one_field_under_both_names_is_a_400() -> None:
    message = problem(
        "POST", "/api/v1/jobs/j-1/proposals", {"coverLetter": "a", "cover_letter": "b"}
    )

    assert message == "Field 'cover_letter' repeats field 'coverLetter'"


def test_pinned_snake_case_json_names_are_read() -> None:
    request = build(
        "POST",
        "/api/v1/users/freelancer/achievements",
        {"achievement_name": "Prize", "awarded_by": "Jury"},
    )

    assert isinstance(request, users_pb2.AddFreelancerAchievementRequest)
    assert (request.achievement_name, request.awarded_by) == ("Prize", "Jury")


def test_nested_messages_and_lists_of_them_are_filled() -> None:
    request = build(
        "POST",
        "/api/v1/jobs/j-1/proposals",
        {
            "attachments": [{"name": "plan", "url": "/static/plan.pdf"}],
            "milestones": [{"description": "v1", "amount": 50.5, "dueDate": 0}],
        },
    )

    assert isinstance(request, jobs_pb2.CreateProposalRequest)
    assert request.attachments[0].url == "/static/plan.pdf"
    assert request.milestones[0].amount == 50.5
    assert request.milestones[0].due_date == "1970-01-01T00:00:00.000+00:00"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"title": 5}, "Field 'title' must be a string, not a number"),
        ({"title": ["a"]}, "Field 'title' must be a string, not an array"),
        ({"budget": "lots"}, "Field 'budget' must be a number; got \"lots\""),
        ({"budget": True}, "Field 'budget' must be a number; got true"),
        ({"budget": {"v": 1}}, "Field 'budget' must be a number; got an object"),
        ({"budget": 10**400}, "Field 'budget' must be a finite number"),
        ({"budget": 1e400}, "Field 'budget' must be a finite number"),
        ({"skills": "svg"}, "Field 'skills' must be an array, not a string"),
        ({"skills": ["svg", 3]}, "Field 'skills[1]' must be a string, not a number"),
        ({"skills": [None]}, "Field 'skills[0]' must not be null"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(
    body: dict[str, object], expected: str
) -> None:
    assert problem("POST", "/api/v1/jobs", body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"milestones": [{"amount": "x"}]},
            "Field 'milestones[0].amount' must be a number",
        ),
        ({"milestones": ["x"]}, "Field 'milestones[0]' must be a JSON object"),
        (
            {"attachments": [{}, {"name": 1}]},
            "Field 'attachments[1].name' must be a string",
        ),
        ({"jobDuration": "FOREVER"}, "Field 'jobDuration' must be one of"),
    ],
)
def test_nested_problems_name_the_path_to_the_field(
    body: dict[str, object], expected: str
) -> None:
    assert problem("POST", "/api/v1/jobs/j-1/proposals", body).startswith(expected)


@pytest.mark.parametrize("value", ["SENIOR", "expert", "EXPERIENCE_UNSPECIFIED", 3])
def test_an_enum_takes_only_its_names(value: object) -> None:
    message = problem("POST", "/api/v1/jobs", {"experience": value})

    assert message == (
        "Field 'experience' must be one of ENTRY_LEVEL, INTERMEDIATE, EXPERT; "
        f"got {json.dumps(value)}"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), (12.0, 12), ("12", 12), ("-3", -3), (2**31 - 1, 2**31 - 1)],
)
def test_int32_accepts_integral_numbers_and_numeric_strings(
    value: object, expected: int
) -> None:
    request = build("POST", "/api/v1/users/client/profile", {"employeeCount": value})

    assert isinstance(request, users_pb2.ClientSetProfileRequest)
    assert request.employee_count == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**31, "Field 'employeeCount' is out of range: 2147483648 is not in"),
        (-(2**31) - 1, "Field 'employeeCount' is out of range"),
        (1e300, "Field 'employeeCount' is out of range: 100000000000000005250"),
        (1.5, "Field 'employeeCount' must be an integer; got 1.5"),
        ("1_000", "Field 'employeeCount' must be an integer"),
        (" 7", "Field 'employeeCount' must be an integer"),
        (False, "Field 'employeeCount' must be an integer; got false"),
    ],
)
def test_int32_rejects_everything_else(value: object, expected: str) -> None:
    message = problem("POST", "/api/v1/users/client/profile", {"employeeCount": value})

    assert message.startswith(expected)


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    message = problem("POST", "/api/v1/jobs", {"experience": "X" * 5000})

    assert message.endswith('; got "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX...')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "1970-01-01T00:00:00.000+00:00"),
        (1735689600123, "2025-01-01T00:00:00.123+00:00"),
        (-86400000, "1969-12-31T00:00:00.000+00:00"),
        (1735689600000.0, "2025-01-01T00:00:00.000+00:00"),
        ("2025-01-01", "2025-01-01"),
    ],
)
def test_epoch_milliseconds_in_date_fields_become_iso_text(
    value: object, expected: str
) -> None:
    request = build("POST", "/api/v1/users/freelancers/register", {"birthDate": value})

    assert isinstance(request, users_pb2.FreelancerRegisterRequest)
    assert request.birth_date == expected


@pytest.mark.parametrize(
    ("path", "name", "field"),
    [
        ("/api/v1/users/freelancer/education", "education_start_date", "date"),
        ("/api/v1/users/freelancer/experience", "employment_start", "start"),
        ("/api/v1/users/freelancer/experience", "employment_end", "end"),
    ],
)
def test_date_fields_are_found_by_their_name(path: str, name: str, field: str) -> None:
    request = build("POST", path, {name: 0})

    assert getattr(request, name) == "1970-01-01T00:00:00.000+00:00"


def test_a_number_in_a_plain_string_field_stays_a_400() -> None:
    message = problem("POST", "/api/v1/users/freelancers/register", {"email": 0})

    assert message == "Field 'email' must be a string, not a number"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10**20, "Field 'birthDate' is out of range for a date"),
        (True, "Field 'birthDate' must be a string, not a boolean"),
    ],
)
def test_a_bad_date_number_is_a_400(value: object, expected: str) -> None:
    message = problem(
        "POST", "/api/v1/users/freelancers/register", {"birthDate": value}
    )

    assert message == expected


def test_query_parameters_are_read_by_json_name_and_cast() -> None:
    request = build(
        "GET",
        "/api/v1/jobs/search",
        query=[("query", "logo"), ("pageLimit", "10"), ("pagingState", "abc")],
    )

    assert request == jobs_pb2.SearchJobsRequest(
        query="logo", page_limit=10, paging_state="abc"
    )


def test_the_first_of_repeated_query_values_wins_and_unknown_ones_are_ignored() -> None:
    request = build(
        "GET",
        "/api/v1/jobs/search",
        query=[("page_limit", "5"), ("pageLimit", "9"), ("sort", "x")],
    )

    assert isinstance(request, jobs_pb2.SearchJobsRequest)
    assert request.page_limit == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ten", "Query parameter 'pageLimit' must be an integer; got \"ten\""),
        ("", "Query parameter 'pageLimit' must be an integer"),
        ("99999999999", "Query parameter 'pageLimit' is out of range"),
    ],
)
def test_a_bad_query_value_is_a_400_naming_the_parameter(
    value: str, expected: str
) -> None:
    message = problem("GET", "/api/v1/jobs/search", query=[("pageLimit", value)])

    assert message.startswith(expected)


def _route_for(request_class: type[Message]) -> Route:
    """The Ping route, bent to another request type to reach other scalars."""
    ping = route("GET", "/api/v1/ping")
    return dataclasses.replace(ping, request_class=request_class, identity_fields=())


def from_query(
    request_class: type[Message], query: Iterable[tuple[str, str]]
) -> Message:
    return codec.build_request(
        _route_for(request_class), body=None, query=query, path_params={}, caller_id=""
    )


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("FALSE", False)])
def test_a_bool_query_parameter_is_true_or_false(text: str, expected: bool) -> None:
    request = from_query(jobs_pb2.AcceptedJob, [("active", text)])

    assert isinstance(request, jobs_pb2.AcceptedJob)
    assert request.active is expected


def test_a_bool_query_parameter_rejects_other_words() -> None:
    with pytest.raises(BadRequest, match="'active' must be true or false; got \"yes\""):
        from_query(jobs_pb2.AcceptedJob, [("active", "yes")])


@pytest.mark.parametrize(
    ("text", "expected"), [("2.5", 2.5), ("1e3", 1000.0), ("-.5", -0.5)]
)
def test_a_double_query_parameter_is_cast(text: str, expected: float) -> None:
    request = from_query(payments_pb2.WithdrawFromWalletRequest, [("amount", text)])

    assert isinstance(request, payments_pb2.WithdrawFromWalletRequest)
    assert request.amount == expected


@pytest.mark.parametrize("text", ["nan", "Infinity", "1e999", "2,5", "0x10"])
def test_a_double_query_parameter_must_be_a_finite_decimal(text: str) -> None:
    with pytest.raises(BadRequest, match="Query parameter 'amount' must be a"):
        from_query(payments_pb2.WithdrawFromWalletRequest, [("amount", text)])


def test_repeated_query_values_fill_a_list_and_enums_take_names() -> None:
    request = from_query(
        jobs_pb2.CreateJobRequest,
        [("skills", "a"), ("skills", "b"), ("experience", "ENTRY_LEVEL")],
    )

    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert list(request.skills) == ["a", "b"]
    assert request.experience == jobs_pb2.Experience.ENTRY_LEVEL


def test_query_values_overwrite_the_body() -> None:
    request = from_query(jobs_pb2.SearchJobsRequest, [("query", "from-query")])
    assert isinstance(request, jobs_pb2.SearchJobsRequest)
    assert request.query == "from-query"

    request = build(
        "POST", "/api/v1/jobs", {"title": "body"}, query=[("title", "query")]
    )
    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert request.title == "query"


def test_the_path_wins_over_body_and_query() -> None:
    request = build(
        "POST",
        "/api/v1/jobs/from-path/proposals",
        {"jobId": "from-body"},
        query=[("jobId", "from-query")],
    )

    assert isinstance(request, jobs_pb2.CreateProposalRequest)
    assert request.job_id == "from-path"


def test_the_token_overwrites_user_id_from_body_and_query() -> None:
    request = build(
        "POST",
        "/api/v1/jobs",
        {"userId": "intruder"},
        query=[("userId", "intruder")],
        caller_id="real-user",
    )

    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert request.user_id == "real-user"


def test_an_anonymous_caller_clears_user_id() -> None:
    request = build("POST", "/api/v1/jobs", {"userId": "intruder"}, caller_id="")

    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert request.user_id == ""


def test_payments_routes_also_get_the_role_id_from_the_token() -> None:
    request = build(
        "POST",
        "/api/v1/payments/freelancers/me/wallet/withdraw",
        {"freelancerId": "intruder", "clientId": "x", "amount": 5},
        caller_id="f-1",
    )

    assert request == payments_pb2.WithdrawFromWalletRequest(
        user_id="f-1", freelancer_id="f-1", amount=5.0
    )


def test_a_client_payments_route_fills_client_id() -> None:
    request = build(
        "POST", "/api/v1/payments/requests/r-1/pay", caller_id="c-1", body=None
    )

    assert request == payments_pb2.PayPaymentRequestRequest(
        user_id="c-1", client_id="c-1", payment_request_id="r-1"
    )


def test_login_takes_no_identity_from_a_token() -> None:
    request = build("POST", "/api/v1/users/login", {"email": "a@b.c", "password": "pw"})

    assert request == users_pb2.LoginRequest(email="a@b.c", password="pw")


# --- rendering ---------------------------------------------------------------


def test_every_field_is_rendered_with_nulls_and_defaults() -> None:
    body = codec.render_message(jobs_pb2.GetJobByIdResponse())

    assert body == {
        "id": None,
        "title": None,
        "description": None,
        "location": None,
        "budget": 0.0,
        "skills": [],
        "experience": None,
        "clientId": None,
        "active": False,
        "createdAt": None,
        "modifiedAt": None,
    }
    assert json.dumps(body["budget"]) == "0.0"


def test_set_fields_render_as_api_md_shows_them() -> None:
    job = jobs_pb2.GetJobByIdResponse(
        id="j-1",
        title="",
        budget=100,
        skills=["svg"],
        experience=jobs_pb2.Experience.EXPERT,
        active=True,
        created_at=timestamp("2025-01-01T00:00:00+00:00"),
        modified_at=timestamp("2025-03-04T05:06:07.891234+00:00"),
    )

    body = codec.render_message(job)

    assert body["id"] == "j-1"
    assert body["title"] == ""
    assert json.dumps(body["budget"]) == "100.0"
    assert body["experience"] == "EXPERT"
    assert body["active"] is True
    assert body["createdAt"] == "2025-01-01T00:00:00.000+00:00"
    assert body["modifiedAt"] == "2025-03-04T05:06:07.891+00:00"


def test_enum_zero_values_render_as_null_and_names_otherwise() -> None:
    proposal = jobs_pb2.AcceptedProposal(
        id="p", status=jobs_pb2.ProposalStatus.ACCEPTED
    )

    assert codec.render_message(proposal) == {"id": "p", "status": "ACCEPTED"}
    assert codec.render_message(jobs_pb2.AcceptedProposal())["status"] is None


def test_unset_sub_messages_are_null_and_set_ones_are_objects() -> None:
    empty = codec.render_message(jobs_pb2.AcceptProposalResponse())
    accepted = codec.render_message(
        jobs_pb2.AcceptProposalResponse(job=jobs_pb2.AcceptedJob(id="j"))
    )

    assert empty == {"message": None, "job": None, "proposal": None, "contractId": None}
    assert accepted["job"] == {"id": "j", "active": False}


def test_lists_of_messages_render_each_item() -> None:
    response = jobs_pb2.GetProposalsByJobIdResponse(
        proposals=[
            jobs_pb2.Proposal(
                id="p-1",
                duration=jobs_pb2.JobDuration.ONE_TO_THREE_MONTHS,
                milestones=[
                    jobs_pb2.ProposalMilestone(
                        amount=10, due_date=timestamp("2025-06-01T00:00:00+00:00")
                    )
                ],
            )
        ]
    )

    proposals = codec.render_message(response)["proposals"]

    assert isinstance(proposals, list)
    (proposal,) = proposals
    assert isinstance(proposal, dict)
    assert proposal["duration"] == "ONE_TO_THREE_MONTHS"
    assert proposal["attachments"] == []
    assert proposal["milestones"] == [
        {
            "description": None,
            "amount": 10.0,
            "dueDate": "2025-06-01T00:00:00.000+00:00",
        }
    ]


def test_pinned_json_names_render_in_snake_case() -> None:
    item = users_pb2.CvAchievement(
        id="a-1", achievement_name="Prize", award_date=timestamp("2020-02-02T00:00:00")
    )

    assert codec.render_message(item) == {
        "id": "a-1",
        "achievement_name": "Prize",
        "achievement_description": None,
        "award_date": "2020-02-02T00:00:00.000+00:00",
        "awarded_by": None,
    }


def test_a_timestamp_before_year_1000_keeps_four_year_digits() -> None:
    assert codec.render_timestamp(timestamp("0099-01-01T00:00:00+00:00")) == (
        "0099-01-01T00:00:00.000+00:00"
    )


def test_non_finite_doubles_render_as_proto3_strings() -> None:
    rendered = [
        codec.render_message(payments_pb2.GetWalletResponse(balance=value))["balance"]
        for value in (float("nan"), float("inf"), float("-inf"))
    ]

    assert rendered == ["NaN", "Infinity", "-Infinity"]


def test_64_bit_integers_and_bytes_follow_proto3_json() -> None:
    body = codec.render_message(Envelope(deadline_unix_ms=2**40, payload=b"\x00\xff"))

    assert body["deadlineUnixMs"] == str(2**40)
    assert body["payload"] == "AP8="


def test_a_reply_renders_status_and_error_message_first() -> None:
    reply = Reply(status=404, error_message="Wallet not found")

    body = codec.render_reply(payments_pb2.GetWalletResponse(), reply)

    assert json.dumps(body, separators=(",", ":")) == (
        '{"statusCode":"NOT_FOUND","errorMessage":"Wallet not found","balance":0.0}'
    )


@pytest.mark.parametrize(("message", "expected"), [(None, None), ("", "")])
def test_error_message_is_null_when_unset_and_kept_when_empty(
    message: str | None, expected: str | None
) -> None:
    reply = Reply(status=200)
    if message is not None:
        reply.error_message = message

    body = codec.render_reply(contracts_pb2.GetContractResponse(contract_id="c"), reply)

    assert body["statusCode"] == "OK"
    assert body["errorMessage"] == expected
    assert body["contractId"] == "c"
    assert body["status"] is None


def test_the_auth_body_has_only_token_and_message() -> None:
    assert codec.auth_body("t", None) == {"authToken": "t", "errorMessage": None}
