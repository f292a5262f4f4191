"""The route table the edge derives from the protos, checked against API.md 4.1."""

from __future__ import annotations

import dataclasses
import types

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool

from common.errors import NotFound
from edge.errors import WrongMethod
from edge.routes import RouteTable, build_route_table
from workup_pb import jobs_pb2, options_pb2, payments_pb2, users_pb2

TABLE = build_route_table()

A = options_pb2
# API.md 4.1: number, method, a concrete path, command, access, success status.
API_ROUTES = [
    ("R2", "POST", "/api/v1/users/login", "Login", A.PUBLIC, 200),
    ("R3", "POST", "/api/v1/users/clients/register", "ClientRegister", A.PUBLIC, 200),
    (
        "R4",
        "POST",
        "/api/v1/users/freelancers/register",
        "FreelancerRegister",
        A.PUBLIC,
        200,
    ),
    (
        "R5",
        "POST",
        "/api/v1/users/freelancer/achievements",
        "AddFreelancerAchievement",
        A.FREELANCER,
        201,
    ),
    (
        "R6",
        "POST",
        "/api/v1/users/freelancer/education",
        "AddFreelancerEducation",
        A.FREELANCER,
        201,
    ),
    (
        "R7",
        "POST",
        "/api/v1/users/freelancer/experience",
        "AddFreelancerExperience",
        A.FREELANCER,
        201,
    ),
    (
        "R8",
        "POST",
        "/api/v1/users/freelancer/languages",
        "AddFreelancerLanguage",
        A.FREELANCER,
        201,
    ),
    (
        "R9",
        "POST",
        "/api/v1/users/freelancer/skills",
        "AddFreelancerSkill",
        A.FREELANCER,
        201,
    ),
    ("R10", "GET", "/api/v1/users/client/photo", "ClientGetPhoto", A.CLIENT, 200),
    ("R11", "GET", "/api/v1/users/client/profile", "ClientGetProfile", A.CLIENT, 200),
    ("R12", "POST", "/api/v1/users/client/photo", "ClientSetPhoto", A.CLIENT, 200),
    ("R13", "POST", "/api/v1/users/client/profile", "ClientSetProfile", A.CLIENT, 200),
    (
        "R14",
        "GET",
        "/api/v1/users/freelancer/photo",
        "FreelancerGetPhoto",
        A.FREELANCER,
        200,
    ),
    (
        "R15",
        "GET",
        "/api/v1/users/freelancer/profile_briefs",
        "FreelancerGetProfileBrief",
        A.FREELANCER,
        200,
    ),
    (
        "R16",
        "GET",
        "/api/v1/users/freelancer/profile",
        "FreelancerGetProfile",
        A.FREELANCER,
        200,
    ),
    (
        "R17",
        "GET",
        "/api/v1/users/freelancer/resume",
        "FreelancerGetResume",
        A.FREELANCER,
        200,
    ),
    (
        "R18",
        "POST",
        "/api/v1/users/freelancer/photo",
        "FreelancerSetPhoto",
        A.FREELANCER,
        200,
    ),
    (
        "R19",
        "POST",
        "/api/v1/users/freelancer/profile",
        "FreelancerSetProfile",
        A.FREELANCER,
        200,
    ),
    (
        "R20",
        "POST",
        "/api/v1/users/freelancer/resume",
        "FreelancerSetResume",
        A.FREELANCER,
        200,
    ),
    (
        "R21",
        "GET",
        "/api/v1/users/freelancer/achievements",
        "GetFreelancerAchievements",
        A.FREELANCER,
        200,
    ),
    (
        "R22",
        "GET",
        "/api/v1/users/freelancer/education",
        "GetFreelancerEducations",
        A.FREELANCER,
        200,
    ),
    (
        "R23",
        "GET",
        "/api/v1/users/freelancer/experience",
        "GetFreelancerExperiences",
        A.FREELANCER,
        200,
    ),
    (
        "R24",
        "GET",
        "/api/v1/users/freelancer/languages",
        "GetFreelancerLanguages",
        A.FREELANCER,
        200,
    ),
    (
        "R25",
        "GET",
        "/api/v1/users/freelancer/skills",
        "GetFreelancerSkills",
        A.FREELANCER,
        200,
    ),
    (
        "R26",
        "DELETE",
        "/api/v1/users/freelancer/achievements",
        "RemoveFreelancerAchievement",
        A.FREELANCER,
        200,
    ),
    (
        "R27",
        "DELETE",
        "/api/v1/users/freelancer/education",
        "RemoveFreelancerEducation",
        A.FREELANCER,
        200,
    ),
    (
        "R28",
        "DELETE",
        "/api/v1/users/freelancer/experience",
        "RemoveFreelancerExperience",
        A.FREELANCER,
        200,
    ),
    (
        "R29",
        "DELETE",
        "/api/v1/users/freelancer/languages",
        "RemoveFreelancerLanguage",
        A.FREELANCER,
        200,
    ),
    (
        "R30",
        "DELETE",
        "/api/v1/users/freelancer/skills",
        "RemoveFreelancerSkill",
        A.FREELANCER,
        200,
    ),
    (
        "R31",
        "PUT",
        "/api/v1/users/freelancer/achievements",
        "UpdateFreelancerAchievement",
        A.FREELANCER,
        200,
    ),
    (
        "R32",
        "PUT",
        "/api/v1/users/freelancer/education",
        "UpdateFreelancerEducation",
        A.FREELANCER,
        200,
    ),
    (
        "R33",
        "PUT",
        "/api/v1/users/freelancer/experience",
        "UpdateFreelancerExperience",
        A.FREELANCER,
        200,
    ),
    ("R34", "GET", "/api/v1/jobs/j-1", "GetJobById", A.AUTHENTICATED, 200),
    ("R35", "POST", "/api/v1/jobs", "CreateJob", A.CLIENT, 201),
    ("R36", "GET", "/api/v1/jobs/search", "SearchJobs", A.PUBLIC, 200),
    ("R37", "GET", "/api/v1/jobs/me", "GetMyJobs", A.CLIENT, 200),
    ("R38", "POST", "/api/v1/jobs/j-1/proposals", "CreateProposal", A.FREELANCER, 201),
    (
        "R39",
        "GET",
        "/api/v1/jobs/j-1/proposals",
        "GetProposalsByJobId",
        A.AUTHENTICATED,
        200,
    ),
    ("R40", "GET", "/api/v1/jobs/me/proposals", "GetMyProposals", A.FREELANCER, 200),
    (
        "R41",
        "POST",
        "/api/v1/jobs/j-1/proposals/p-1/accept",
        "AcceptProposal",
        A.CLIENT,
        200,
    ),
    (
        "R42",
        "GET",
        "/api/v1/payments/clients/me/requests",
        "GetClientPaymentRequests",
        A.CLIENT,
        200,
    ),
    (
        "R43",
        "GET",
        "/api/v1/payments/clients/me/transactions",
        "GetClientPaymentTransactions",
        A.CLIENT,
        200,
    ),
    (
        "R44",
        "GET",
        "/api/v1/payments/freelancers/me/requests",
        "GetFreelancerPaymentRequests",
        A.FREELANCER,
        200,
    ),
    (
        "R45",
        "GET",
        "/api/v1/payments/freelancers/me/transactions",
        "GetFreelancerPaymentTransactions",
        A.FREELANCER,
        200,
    ),
    (
        "R46",
        "GET",
        "/api/v1/payments/freelancers/me/wallet/transactions",
        "GetWalletTransactions",
        A.FREELANCER,
        200,
    ),
    (
        "R47",
        "GET",
        "/api/v1/payments/freelancers/me/wallet/transactions/w-1",
        "GetWalletTransaction",
        A.FREELANCER,
        200,
    ),
    (
        "R48",
        "GET",
        "/api/v1/payments/freelancers/me/wallet",
        "GetWallet",
        A.FREELANCER,
        200,
    ),
    (
        "R49",
        "POST",
        "/api/v1/payments/freelancers/me/wallet/withdraw",
        "WithdrawFromWallet",
        A.FREELANCER,
        200,
    ),
    (
        "R50",
        "POST",
        "/api/v1/payments/requests/r-1/pay",
        "PayPaymentRequest",
        A.CLIENT,
        200,
    ),
    ("R51", "GET", "/api/v1/contracts/c-1", "GetContract", A.AUTHENTICATED, 200),
    (
        "R52",
        "GET",
        "/api/v1/contracts/c-1/milestones",
        "ViewContractMilestones",
        A.AUTHENTICATED,
        200,
    ),
    (
        "R53",
        "GET",
        "/api/v1/contracts/milestones/m-1",
        "GetMilestone",
        A.AUTHENTICATED,
        200,
    ),
    (
        "R54",
        "GET",
        "/api/v1/contracts/c-1/terminations",
        "GetPendingTerminations",
        A.AUTHENTICATED,
        200,
    ),
    (
        "R55",
        "POST",
        "/api/v1/contracts/c-1/terminations/request",
        "RequestContractTermination",
        A.CLIENT_OR_FREELANCER,
        201,
    ),
    (
        "R56",
        "POST",
        "/api/v1/contracts/milestones/m-1/evaluate",
        "EvaluateMilestone",
        A.CLIENT,
        200,
    ),
    (
        "R57",
        "POST",
        "/api/v1/contracts/terminations/t-1/handle",
        "HandleTerminationRequest",
        A.ADMIN,
        200,
    ),
    (
        "R58",
        "POST",
        "/api/v1/contracts/milestones/m-1/progress",
        "ProgressMilestone",
        A.FREELANCER,
        200,
    ),
]

QUEUES = {
    "users": "queue_users",
    "jobs": "queue_jobs",
    "payments": "queue_payments",
    "contracts": "queue_contracts",
}


@pytest.mark.parametrize(
    ("number", "method", "path", "command", "access", "status"),
    API_ROUTES,
    ids=[row[0] for row in API_ROUTES],
)
def test_every_api_route_resolves_to_its_command(
    number: str, method: str, path: str, command: str, access: int, status: int
) -> None:
    route = TABLE.resolve(method, path).route

    assert route.command == command
    assert route.access == access
    assert route.success_status == status
    assert route.queue == QUEUES[path.split("/")[3]]


def test_the_table_holds_the_api_routes_plus_ping_and_nothing_else() -> None:
    commands = {route.command for route in TABLE.routes}

    assert commands == {row[3] for row in API_ROUTES} | {"Ping"}
    assert len(TABLE.routes) == len(API_ROUTES) + 1


def test_internal_commands_are_never_routed() -> None:
    commands = {route.command for route in TABLE.routes}

    internal = {"CreatePaymentRequest", "CreateWallet", "InitiateContract"}
    assert commands.isdisjoint(internal | {"MarkMilestoneAsPaid", "PrintContract"})


def test_path_placeholders_become_request_field_values() -> None:
    match = TABLE.resolve("POST", "/api/v1/jobs/j-7/proposals/p-9/accept")

    assert match.path_params == {"job_id": "j-7", "proposal_id": "p-9"}


def test_path_values_are_percent_decoded_after_splitting() -> None:
    match = TABLE.resolve("GET", "/api/v1/jobs/a%2Fb%20c")

    assert match.route.command == "GetJobById"
    assert match.path_params == {"job_id": "a/b c"}


@pytest.mark.parametrize(
    ("method", "path", "command", "params"),
    [
        ("GET", "/api/v1/jobs/me", "GetMyJobs", {}),
        ("GET", "/api/v1/jobs/search", "SearchJobs", {}),
        ("GET", "/api/v1/jobs/me/proposals", "GetMyProposals", {}),
        ("GET", "/api/v1/contracts/milestones/m-1", "GetMilestone", {}),
        (
            "GET",
            "/api/v1/contracts/milestones/milestones",
            "GetMilestone",
            {"milestone_id": "milestones"},
        ),
    ],
)
def test_a_literal_segment_beats_a_placeholder(
    method: str, path: str, command: str, params: dict[str, str]
) -> None:
    match = TABLE.resolve(method, path)

    assert match.route.command == command
    for name, value in params.items():
        assert match.path_params[name] == value


def test_a_placeholder_takes_over_where_the_literal_branch_has_no_route() -> None:
    match = TABLE.resolve("GET", "/api/v1/jobs/search/proposals")

    assert match.route.command == "GetProposalsByJobId"
    assert match.path_params == {"job_id": "search"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing",
        "/api/v1/jobs/",
        "/api/v1/jobs//proposals",
        "/api/v1/jobs/j-1/proposals/p-1",
        "/api/v1/users/path",
        "api/v1/jobs",
    ],
)
def test_an_unknown_path_is_not_found(path: str) -> None:
    with pytest.raises(NotFound):
        TABLE.resolve("GET", path)


def test_a_known_path_with_the_wrong_method_lists_the_right_ones() -> None:
    with pytest.raises(WrongMethod) as caught:
        TABLE.resolve("PATCH", "/api/v1/users/freelancer/achievements")

    assert caught.value.status == 405
    assert caught.value.allowed == ("DELETE", "GET", "POST", "PUT", "OPTIONS")


def test_the_literal_path_decides_the_methods_too() -> None:
    # POST /jobs/me/proposals must not fall through to CreateProposal(job_id="me").
    with pytest.raises(WrongMethod) as caught:
        TABLE.resolve("POST", "/api/v1/jobs/me/proposals")

    assert caught.value.allowed == ("GET", "OPTIONS")


def test_allowed_methods_of_a_path() -> None:
    assert TABLE.allowed_methods("/api/v1/jobs") == ("POST", "OPTIONS")
    with pytest.raises(NotFound):
        TABLE.allowed_methods("/api/v1/unknown")


def test_routes_carry_the_generated_message_classes() -> None:
    route = TABLE.resolve("POST", "/api/v1/jobs").route

    assert route.request_class is jobs_pb2.CreateJobRequest
    assert route.response_class is jobs_pb2.CreateJobResponse
    assert route.has_body
    assert not route.auth_response


def test_login_and_register_are_auth_response_routes() -> None:
    auth_routes = {route.command for route in TABLE.routes if route.auth_response}

    assert auth_routes == {"Login", "ClientRegister", "FreelancerRegister"}


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("POST", "/api/v1/users/login", ()),
        ("GET", "/api/v1/jobs/search", ()),
        ("GET", "/api/v1/jobs/me", ("user_id",)),
        ("GET", "/api/v1/payments/clients/me/requests", ("user_id", "client_id")),
        ("POST", "/api/v1/payments/requests/r-1/pay", ("user_id", "client_id")),
        (
            "POST",
            "/api/v1/payments/freelancers/me/wallet/withdraw",
            ("user_id", "freelancer_id"),
        ),
    ],
)
def test_identity_fields_per_route(
    method: str, path: str, fields: tuple[str, ...]
) -> None:
    assert TABLE.resolve(method, path).route.identity_fields == fields


def test_a_module_listed_twice_is_a_duplicate_route() -> None:
    with pytest.raises(ValueError, match="Two commands claim"):
        build_route_table([payments_pb2, payments_pb2])


def test_route_table_rejects_two_routes_on_one_method_and_template() -> None:
    route = TABLE.resolve("GET", "/api/v1/ping").route
    with pytest.raises(ValueError, match="GET /api/v1/ping"):
        RouteTable([route, dataclasses.replace(route, command="Other")])


def _module_with_rule(name: str, rule: options_pb2.Route) -> types.ModuleType:
    """A generated-like module whose one service has one rpc with `rule`."""
    method_options = descriptor_pb2.MethodOptions()
    method_options.Extensions[options_pb2.route].CopyFrom(rule)
    service_options = descriptor_pb2.ServiceOptions()
    service_options.Extensions[options_pb2.queue] = "queue_test"
    file_proto = descriptor_pb2.FileDescriptorProto(
        name=f"edge_test/{name}.proto",
        package=f"edge_test.{name}",
        syntax="proto3",
        dependency=["workup_pb/options.proto"],
        message_type=[
            descriptor_pb2.DescriptorProto(
                name="Thing",
                field=[
                    descriptor_pb2.FieldDescriptorProto(
                        name="thing_id",
                        number=1,
                        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                    )
                ],
            )
        ],
        service=[
            descriptor_pb2.ServiceDescriptorProto(
                name="Things",
                options=service_options,
                method=[
                    descriptor_pb2.MethodDescriptorProto(
                        name="GetThing",
                        input_type=f".edge_test.{name}.Thing",
                        output_type=f".edge_test.{name}.Thing",
                        options=method_options,
                    )
                ],
            )
        ],
    )
    pool = descriptor_pool.Default()
    pool.Add(file_proto)
    module = types.ModuleType(name)
    # A bare ModuleType has no DESCRIPTOR attribute for mypy to know of.
    descriptor = pool.FindFileByName(file_proto.name)
    module.DESCRIPTOR = descriptor  # type: ignore[attr-defined]
    return module


def test_a_synthetic_service_builds_a_route() -> None:
    rule = options_pb2.Route(
        method="GET", path="/things/{thing_id}", access=A.PUBLIC, success_status=200
    )
    table = build_route_table([_module_with_rule("good", rule)])

    match = table.resolve("GET", "/things/t-1")
    assert (match.route.command, match.route.queue) == ("GetThing", "queue_test")
    assert match.path_params == {"thing_id": "t-1"}


@pytest.mark.parametrize(
    ("name", "rule", "problem"),
    [
        (
            "no_field",
            options_pb2.Route(method="GET", path="/x/{nope}", access=A.PUBLIC),
            "names no request field",
        ),
        (
            "no_path",
            options_pb2.Route(method="GET", access=A.PUBLIC),
            "needs a method and a path",
        ),
        (
            "odd_body",
            options_pb2.Route(method="POST", path="/x", body="thing", access=A.PUBLIC),
            "body must be",
        ),
        (
            "no_access",
            options_pb2.Route(method="GET", path="/x"),
            "access is unspecified",
        ),
    ],
)
def test_an_inconsistent_route_option_fails_the_build(
    name: str, rule: options_pb2.Route, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        build_route_table([_module_with_rule(name, rule)])


def test_users_ping_is_public_and_bodiless() -> None:
    route = TABLE.resolve("GET", "/api/v1/ping").route

    assert route.request_class is users_pb2.PingRequest
    assert route.access == A.PUBLIC
    assert not route.has_body
