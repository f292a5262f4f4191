"""The edge app end to end in process: TestClient in front, a fake rpc behind."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jose import jwt
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message as AsgiMessage

from common.errors import DeadlineExceeded, Unavailable
from common.logs import JsonFormatter, request_id_var
from edge.app import create_app
from edge.auth import Authenticator
from edge.routes import Route, build_route_table
from edge.settings import EdgeSettings
from workup_pb import jobs_pb2, options_pb2, payments_pb2, users_pb2
from workup_pb.envelope_pb2 import Envelope, Reply

KEY = bytes(range(32))
TIMEOUT_S = 2.5
MAX_BODY_BYTES = 1024
TABLE = build_route_table()
AUTH = Authenticator(KEY)
TOKENS = {
    "CLIENT": AUTH.mint_token("c-1", "client@x.io", "CLIENT"),
    "FREELANCER": AUTH.mint_token("f-1", "free@x.io", "FREELANCER"),
    "ADMIN": AUTH.mint_token("admin", "admin.@workup.com", "ADMIN"),
}
#: The role a test uses to pass each access rule.
ROLE_FOR_ACCESS: dict[int, str] = {
    options_pb2.AUTHENTICATED: "CLIENT",
    options_pb2.CLIENT: "CLIENT",
    options_pb2.FREELANCER: "FREELANCER",
    options_pb2.ADMIN: "ADMIN",
    options_pb2.CLIENT_OR_FREELANCER: "FREELANCER",
}


class FakeRpc:
    """Records every envelope and answers with scripted replies or errors."""

    def __init__(self) -> None:
        self.connected = True
        self.calls: list[tuple[str, Envelope, float]] = []
        self.request_ids_seen: list[str] = []
        self.script: list[Reply | Exception] = []

    async def acall(self, queue: str, envelope: Envelope, timeout_s: float) -> Reply:
        self.calls.append((queue, envelope, timeout_s))
        self.request_ids_seen.append(request_id_var.get())
        outcome = self.script.pop(0) if self.script else Reply(status=200)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @property
    def envelope(self) -> Envelope:
        (_, envelope, _) = self.calls[-1]
        return envelope


@pytest.fixture
def rpc() -> FakeRpc:
    return FakeRpc()


@pytest.fixture
def app(rpc: FakeRpc, tmp_path: Path) -> Starlette:
    settings = EdgeSettings(
        jwt_key=KEY,
        max_body_bytes=MAX_BODY_BYTES,
        rpc_timeout_s=TIMEOUT_S,
        media_dir=tmp_path / "media",
    )
    return create_app(settings, rpc)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def reply(status: int, response: object = None, message: str | None = None) -> Reply:
    answer = Reply(status=status)
    if response is not None:
        assert hasattr(response, "SerializeToString")
        answer.payload = response.SerializeToString()
    if message is not None:
        answer.error_message = message
    return answer


def concrete_path(route: Route) -> str:
    return re.sub(r"\{[a-z_]+\}", "x-1", route.template)


def request_of(route: Route, envelope: Envelope) -> object:
    return route.request_class.FromString(envelope.payload)


# --- edge-owned paths ---------------------------------------------------------


def test_the_root_path_welcomes_in_plain_text(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.text == "Welcome to WorkUp!"
    assert response.headers["content-type"].startswith("text/plain")


def test_the_root_path_takes_only_get(client: TestClient) -> None:
    response = client.post("/")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS"
    assert response.json()["statusCode"] == "METHOD_NOT_ALLOWED"


def test_liveness_and_readiness(client: TestClient, rpc: FakeRpc) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200

    rpc.connected = False
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "statusCode": "SERVICE_UNAVAILABLE",
        "errorMessage": "Not connected to the message broker",
    }


def test_probes_ignore_the_authorization_header(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Authorization": "Bearer junk"})

    assert response.status_code == 200


def test_a_probe_takes_only_get(client: TestClient) -> None:
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS"


# --- routing -----------------------------------------------------------------


@pytest.mark.parametrize("route", TABLE.routes, ids=lambda route: route.command)
def test_every_route_publishes_its_command_to_its_queue(
    client: TestClient, rpc: FakeRpc, route: Route
) -> None:
    role = ROLE_FOR_ACCESS.get(route.access)
    headers = bearer(role) if role else {}
    json_body: dict[str, object] | None = {} if route.has_body else None

    client.request(route.method, concrete_path(route), headers=headers, json=json_body)

    (queue, envelope, timeout_s) = rpc.calls[-1]
    assert (queue, envelope.command) == (route.queue, route.command)
    assert timeout_s == TIMEOUT_S


def test_an_unknown_path_is_a_json_404(client: TestClient, rpc: FakeRpc) -> None:
    response = client.get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.json() == {
        "statusCode": "NOT_FOUND",
        "errorMessage": "No route matches /api/v1/nowhere",
    }
    assert rpc.calls == []


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "DELETE"])
def test_a_known_path_with_a_wrong_method_is_a_405_with_allow(
    client: TestClient, method: str
) -> None:
    response = client.request(method, "/api/v1/jobs", headers=bearer("CLIENT"))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"
    if method != "HEAD":
        assert response.json()["statusCode"] == "METHOD_NOT_ALLOWED"


def test_a_method_starlette_does_not_route_is_a_json_405(client: TestClient) -> None:
    response = client.request("TRACE", "/api/v1/jobs")

    assert response.status_code == 405
    assert response.json()["statusCode"] == "METHOD_NOT_ALLOWED"


def test_options_is_public_and_lists_the_methods(client: TestClient) -> None:
    response = client.options("/api/v1/users/freelancer/skills")

    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, POST, OPTIONS"
    assert client.options("/").headers["allow"] == "GET, OPTIONS"


def test_options_on_an_unknown_path_is_a_404(client: TestClient) -> None:
    assert client.options("/api/v1/nowhere").status_code == 404


def test_a_literal_path_is_not_taken_for_an_id(
    client: TestClient, rpc: FakeRpc
) -> None:
    client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    assert rpc.envelope.command == "GetMyJobs"


# --- authentication and access -----------------------------------------------


def _alg_none(token: str) -> str:
    """The same claims, unsigned, under {"alg": "none"}."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    return f"{header.decode()}.{token.split('.')[1]}."


def _bad_tokens() -> dict[str, str]:
    header, payload, signature = TOKENS["CLIENT"].split(".")
    stale = Authenticator(KEY, clock=lambda: time.time() - 7200)
    return {
        "tampered": f"{header}.{payload[:-2]}xx.{signature}",
        "expired": stale.mint_token("c-1", "c@x", "CLIENT"),
        "alg-none": _alg_none(TOKENS["CLIENT"]),
        "foreign-key": Authenticator(b"z" * 32).mint_token("c-1", "c@x", "CLIENT"),
        "bearer-alone": "",
    }


@pytest.mark.parametrize("kind", sorted(_bad_tokens()))
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/jobs/me"),
        ("POST", "/api/v1/users/login"),
        ("GET", "/api/v1/jobs/search"),
        ("GET", "/"),
    ],
)
def test_a_bad_bearer_token_is_a_401_even_on_public_routes(
    client: TestClient, rpc: FakeRpc, kind: str, method: str, path: str
) -> None:
    token = _bad_tokens()[kind]

    response = client.request(
        method, path, headers={"Authorization": f"Bearer {token}"}, json={}
    )

    assert response.status_code == 401
    assert response.json()["statusCode"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == "Bearer"
    assert rpc.calls == []


def test_an_unsigned_admin_token_cannot_handle_terminations(
    client: TestClient, rpc: FakeRpc
) -> None:
    response = client.post(
        "/api/v1/contracts/terminations/t-1/handle",
        headers={"Authorization": f"Bearer {_alg_none(TOKENS['ADMIN'])}"},
        json={"chosenStatus": "ACCEPTED"},
    )

    assert response.status_code == 401
    assert response.json()["errorMessage"] == "Invalid or expired token"
    assert rpc.calls == []


def test_a_public_route_needs_no_token(client: TestClient, rpc: FakeRpc) -> None:
    response = client.get("/api/v1/jobs/search?query=logo&pageLimit=5")

    assert response.status_code == 200
    assert rpc.envelope.caller_id == ""
    assert rpc.envelope.caller_role == ""


def test_no_token_on_a_protected_route_is_a_401(
    client: TestClient, rpc: FakeRpc
) -> None:
    response = client.get("/api/v1/jobs/me")

    assert response.status_code == 401
    assert response.json() == {
        "statusCode": "UNAUTHORIZED",
        "errorMessage": "Authentication required: send a Bearer token",
    }
    assert rpc.calls == []


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("FREELANCER", "GET", "/api/v1/jobs/me"),
        ("CLIENT", "GET", "/api/v1/payments/freelancers/me/wallet"),
        ("CLIENT", "POST", "/api/v1/contracts/terminations/t-1/handle"),
        ("ADMIN", "POST", "/api/v1/contracts/c-1/terminations/request"),
    ],
)
def test_the_wrong_role_is_a_403(
    client: TestClient, rpc: FakeRpc, role: str, method: str, path: str
) -> None:
    response = client.request(method, path, headers=bearer(role), json={})

    assert response.status_code == 403
    assert response.json()["statusCode"] == "FORBIDDEN"
    assert rpc.calls == []


def test_the_admin_may_use_any_authenticated_route(
    client: TestClient, rpc: FakeRpc
) -> None:
    assert client.get("/api/v1/contracts/c-1", headers=bearer("ADMIN")).is_success


# --- the envelope ------------------------------------------------------------


def test_the_caller_travels_in_the_envelope_and_overwrites_the_body(
    client: TestClient, rpc: FakeRpc
) -> None:
    client.post(
        "/api/v1/payments/freelancers/me/wallet/withdraw",
        headers=bearer("FREELANCER"),
        json={"userId": "intruder", "freelancerId": "intruder", "amount": 20},
    )

    envelope = rpc.envelope
    assert (envelope.caller_id, envelope.caller_role) == ("f-1", "FREELANCER")
    request = payments_pb2.WithdrawFromWalletRequest.FromString(envelope.payload)
    assert (request.user_id, request.freelancer_id, request.amount) == (
        "f-1",
        "f-1",
        20.0,
    )


def test_the_path_beats_the_body(client: TestClient, rpc: FakeRpc) -> None:
    client.post(
        "/api/v1/jobs/j-path/proposals",
        headers=bearer("FREELANCER"),
        json={"jobId": "j-body", "coverLetter": "Hello"},
    )

    request = jobs_pb2.CreateProposalRequest.FromString(rpc.envelope.payload)
    assert (request.job_id, request.cover_letter) == ("j-path", "Hello")


def test_the_envelope_carries_deadline_and_first_attempt(
    client: TestClient, rpc: FakeRpc
) -> None:
    before_ms = time.time() * 1000
    client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))
    after_ms = time.time() * 1000

    envelope = rpc.envelope
    assert envelope.attempt == 1
    deadline = envelope.deadline_unix_ms
    assert before_ms + TIMEOUT_S * 1000 - 1 <= deadline <= after_ms + TIMEOUT_S * 1000


def test_a_write_gets_a_fresh_idempotency_key_and_a_read_none(
    client: TestClient, rpc: FakeRpc
) -> None:
    client.post("/api/v1/jobs", headers=bearer("CLIENT"), json={})
    first = rpc.envelope.idempotency_key
    client.post("/api/v1/jobs", headers=bearer("CLIENT"), json={})
    client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert rpc.calls[1][1].idempotency_key not in ("", first)
    assert rpc.envelope.idempotency_key == ""


def test_the_clients_idempotency_key_is_used(client: TestClient, rpc: FakeRpc) -> None:
    headers = {**bearer("CLIENT"), "Idempotency-Key": "order-42"}

    client.post("/api/v1/jobs", headers=headers, json={})

    assert rpc.envelope.idempotency_key == "order-42"


def test_a_malformed_idempotency_key_is_a_400(client: TestClient, rpc: FakeRpc) -> None:
    headers = {**bearer("CLIENT"), "Idempotency-Key": "a b"}

    response = client.post("/api/v1/jobs", headers=headers, json={})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errorMessage"]
    assert rpc.calls == []


def test_the_request_id_is_sent_back_and_travels_along(
    client: TestClient, rpc: FakeRpc
) -> None:
    response = client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert rpc.envelope.request_id == request_id
    assert rpc.request_ids_seen == [request_id]


@pytest.mark.parametrize(("sent", "kept"), [("trace-1.a", True), ("bad id\n", False)])
def test_a_plain_client_request_id_is_kept(
    client: TestClient, rpc: FakeRpc, sent: str, kept: bool
) -> None:
    response = client.get(
        "/api/v1/jobs/me", headers={**bearer("CLIENT"), "X-Request-Id": sent.strip()}
    )

    assert (response.headers["x-request-id"] == sent.strip()) is kept
    assert rpc.envelope.request_id == response.headers["x-request-id"]


# --- bad input ---------------------------------------------------------------


def post_job(
    client: TestClient,
    *,
    content: bytes | None = None,
    json_body: object = None,
    content_type: str | None = "application/json",
) -> tuple[int, dict[str, object]]:
    headers = bearer("CLIENT")
    if content_type is not None:
        headers["Content-Type"] = content_type
    if json_body is not None:
        content = json.dumps(json_body).encode()
    response = client.post("/api/v1/jobs", headers=headers, content=content)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("content", "json_body", "message"),
    [
        (b'{"title": ', None, "Malformed JSON body: Expecting value"),
        (b"[1, 2]", None, "Request body must be a JSON object, not an array"),
        (None, {"title": 7}, "Field 'title' must be a string, not a number"),
        (None, {"experience": "GURU"}, "Field 'experience' must be one of"),
        (None, {"budget": [1]}, "Field 'budget' must be a number"),
        (None, None, "Request body is required"),
        (b"  ", None, "Request body is required"),
    ],
)
def test_bad_json_input_is_a_400_naming_the_problem(
    client: TestClient,
    rpc: FakeRpc,
    content: bytes | None,
    json_body: object,
    message: str,
) -> None:
    status, body = post_job(client, content=content, json_body=json_body)

    assert status == 400
    assert body["statusCode"] == "BAD_REQUEST"
    assert str(body["errorMessage"]).startswith(message)
    assert rpc.calls == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx"])
def test_a_body_that_is_not_declared_json_is_a_415(
    client: TestClient, rpc: FakeRpc, content_type: str | None
) -> None:
    code, body = post_job(client, content=b"{}", content_type=content_type)

    assert code == 415
    assert body["statusCode"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type must be application/json" in str(body["errorMessage"])
    assert rpc.calls == []


def test_json_with_a_charset_parameter_is_accepted(
    client: TestClient, rpc: FakeRpc
) -> None:
    content_type = "Application/JSON; charset=utf-8"

    code, _ = post_job(client, content=b'{"title": "t"}', content_type=content_type)

    assert code == 200
    assert jobs_pb2.CreateJobRequest.FromString(rpc.envelope.payload).title == "t"


def test_an_oversized_body_with_content_length_is_a_413(
    client: TestClient, rpc: FakeRpc
) -> None:
    body = json.dumps({"title": "x" * MAX_BODY_BYTES}).encode()

    code, answer = post_job(client, content=body)

    assert code == 413
    assert answer == {
        "statusCode": "REQUEST_TOO_LONG",
        "errorMessage": f"Request body is larger than the limit of {MAX_BODY_BYTES} "
        "bytes",
    }
    assert rpc.calls == []


def test_an_oversized_chunked_body_without_content_length_is_a_413(
    client: TestClient, rpc: FakeRpc
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        yield b"x" * MAX_BODY_BYTES
        yield b'"}'

    response = client.post(
        "/api/v1/jobs",
        headers={**bearer("CLIENT"), "Content-Type": "application/json"},
        content=chunks(),
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert rpc.calls == []


def run_asgi(
    app: Starlette,
    headers: dict[str, str],
    chunks: list[bytes],
    *,
    complete: bool = True,
) -> tuple[int, bytes]:
    """Drives one POST /api/v1/jobs through the ASGI app, chunk by chunk.

    Unless `complete`, the client disconnects after the last chunk.
    """
    last = len(chunks) - 1
    incoming: list[AsgiMessage] = [
        {
            "type": "http.request",
            "body": chunk,
            "more_body": index < last or not complete,
        }
        for index, chunk in enumerate(chunks)
    ]
    sent: list[AsgiMessage] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/jobs",
        "raw_path": b"/api/v1/jobs",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }

    async def receive() -> AsgiMessage:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: AsgiMessage) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return sent[0]["status"], body


def test_a_body_longer_than_its_content_length_still_hits_the_limit(
    app: Starlette, rpc: FakeRpc
) -> None:
    headers = {
        **bearer("CLIENT"),
        "Content-Type": "application/json",
        "Content-Length": "10",
    }

    status, body = run_asgi(app, headers, [b'{"title":"', b"y" * 2000, b'"}'])

    assert status == 413
    assert json.loads(body)["statusCode"] == "REQUEST_TOO_LONG"
    assert rpc.calls == []


def test_a_client_that_disconnects_mid_body_gets_no_command_published(
    app: Starlette, rpc: FakeRpc
) -> None:
    headers = {**bearer("CLIENT"), "Content-Type": "application/json"}

    status, body = run_asgi(app, headers, [b'{"title":', b'"x"'], complete=False)

    assert status == 400
    assert json.loads(body)["errorMessage"] == (
        "Client disconnected before sending the whole body"
    )
    assert rpc.calls == []


def test_a_bad_query_value_is_a_400(client: TestClient, rpc: FakeRpc) -> None:
    response = client.get("/api/v1/jobs/search?query=x&pageLimit=many")

    assert response.status_code == 400
    assert response.json()["errorMessage"] == (
        "Query parameter 'pageLimit' must be an integer; got \"many\""
    )
    assert rpc.calls == []


# --- replies -----------------------------------------------------------------


def test_a_reply_renders_with_its_status_and_every_field(
    client: TestClient, rpc: FakeRpc
) -> None:
    job = jobs_pb2.GetJobByIdResponse(
        id="j-1", budget=250, experience=jobs_pb2.Experience.INTERMEDIATE
    )
    job.created_at.FromMilliseconds(1735689600000)
    rpc.script.append(reply(200, job))

    response = client.get("/api/v1/jobs/j-1", headers=bearer("FREELANCER"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "statusCode": "OK",
        "errorMessage": None,
        "id": "j-1",
        "title": None,
        "description": None,
        "location": None,
        "budget": 250.0,
        "skills": [],
        "experience": "INTERMEDIATE",
        "clientId": None,
        "active": False,
        "createdAt": "2025-01-01T00:00:00.000+00:00",
        "modifiedAt": None,
    }


def test_an_error_reply_renders_the_empty_response(
    client: TestClient, rpc: FakeRpc
) -> None:
    rpc.script.append(reply(404, message="Wallet not found"))

    response = client.get(
        "/api/v1/payments/freelancers/me/wallet", headers=bearer("FREELANCER")
    )

    assert response.status_code == 404
    assert response.text == (
        '{"statusCode":"NOT_FOUND","errorMessage":"Wallet not found","balance":0.0}'
    )


def test_a_created_reply_keeps_its_201(client: TestClient, rpc: FakeRpc) -> None:
    rpc.script.append(reply(201, jobs_pb2.CreateJobResponse(job_id="j-9")))

    response = client.post("/api/v1/jobs", headers=bearer("CLIENT"), json={})

    assert response.status_code == 201
    assert response.json() == {
        "statusCode": "CREATED",
        "errorMessage": None,
        "jobId": "j-9",
    }


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (
            Unavailable("No instance of the jobs service is running"),
            503,
            "SERVICE_UNAVAILABLE",
        ),
        (
            DeadlineExceeded("No reply to GetMyJobs within 2.5 s"),
            504,
            "GATEWAY_TIMEOUT",
        ),
    ],
)
def test_rpc_failures_become_json_503_and_504(
    client: TestClient, rpc: FakeRpc, error: Exception, status: int, code: str
) -> None:
    rpc.script.append(error)

    response = client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    assert response.status_code == status
    assert response.json() == {"statusCode": code, "errorMessage": str(error)}


@pytest.mark.parametrize("bad", [reply(0), Reply(status=200, payload=b"\xff\xff\xff")])
def test_an_unusable_reply_is_a_502(
    client: TestClient, rpc: FakeRpc, bad: Reply
) -> None:
    rpc.script.append(bad)

    response = client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    assert response.status_code == 502
    assert response.json() == {
        "statusCode": "BAD_GATEWAY",
        "errorMessage": "The GetMyJobs command sent an invalid reply",
    }


def test_a_bug_is_an_opaque_500_with_the_traceback_in_the_log(
    client: TestClient, rpc: FakeRpc, caplog: pytest.LogCaptureFixture
) -> None:
    rpc.script.append(RuntimeError("database password is hunter2"))

    with caplog.at_level(logging.ERROR, logger="edge.middleware"):
        response = client.get("/api/v1/jobs/me", headers=bearer("CLIENT"))

    assert response.status_code == 500
    assert response.json() == {
        "statusCode": "INTERNAL_SERVER_ERROR",
        "errorMessage": "Internal server error",
    }
    assert "hunter2" not in response.text
    assert "x-request-id" in response.headers
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


# --- login and register ------------------------------------------------------


def test_a_successful_login_answers_only_a_fresh_token(
    client: TestClient, rpc: FakeRpc
) -> None:
    outcome = users_pb2.LoginResponse(
        success=True,
        user_id="f-7",
        user_name="free@x.io",
        user_type=users_pb2.UserType.FREELANCER,
    )
    rpc.script.append(reply(200, outcome))

    response = client.post(
        "/api/v1/users/login", json={"email": "free@x.io", "password": "pw"}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"authToken", "errorMessage"}
    assert body["errorMessage"] is None
    claims = jwt.decode(body["authToken"], KEY, algorithms=["HS256"])
    assert (claims["sub"], claims["userId"], claims["role"]) == (
        "free@x.io",
        "f-7",
        "FREELANCER",
    )
    assert claims["exp"] - claims["iat"] == 1800
    assert client.get(
        "/api/v1/jobs/me/proposals",
        headers={"Authorization": f"Bearer {body['authToken']}"},
    ).is_success


@pytest.mark.parametrize(
    "path", ["/api/v1/users/clients/register", "/api/v1/users/freelancers/register"]
)
def test_register_mints_a_token_too(
    client: TestClient, rpc: FakeRpc, path: str
) -> None:
    outcome = users_pb2.RegisterResponse(
        success=True,
        user_id="c-7",
        user_name="c@x.io",
        user_type=users_pb2.UserType.CLIENT,
    )
    rpc.script.append(reply(200, outcome))

    token = client.post(path, json={"email": "c@x.io"}).json()["authToken"]

    assert jwt.decode(token, KEY, algorithms=["HS256"])["role"] == "CLIENT"


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (
            reply(401, users_pb2.LoginResponse(), "Invalid email or password"),
            401,
            "Invalid email or password",
        ),
        (reply(500), 500, None),
        (reply(200, users_pb2.LoginResponse(success=False)), 200, None),
    ],
)
def test_a_failed_login_answers_a_null_token_and_the_message(
    client: TestClient, rpc: FakeRpc, answer: Reply, status: int, message: str | None
) -> None:
    rpc.script.append(answer)

    response = client.post("/api/v1/users/login", json={"email": "a", "password": "b"})

    assert response.status_code == status
    assert response.json() == {"authToken": None, "errorMessage": message}


def test_a_successful_login_without_a_role_is_an_opaque_500(
    client: TestClient, rpc: FakeRpc, caplog: pytest.LogCaptureFixture
) -> None:
    rpc.script.append(reply(200, users_pb2.LoginResponse(success=True, user_id="u")))

    with caplog.at_level(logging.ERROR, logger="edge.middleware"):
        response = client.post("/api/v1/users/login", json={})

    assert response.status_code == 500
    assert response.json()["errorMessage"] == "Internal server error"
    assert "lacks the user's id or role" in caplog.text


def test_login_ignores_a_user_id_in_the_body(client: TestClient, rpc: FakeRpc) -> None:
    client.post("/api/v1/users/login", json={"email": "a", "userId": "x"})

    assert users_pb2.LoginRequest.FromString(rpc.envelope.payload) == (
        users_pb2.LoginRequest(email="a")
    )


# --- logging and concurrency -------------------------------------------------


def test_each_request_logs_one_line_with_its_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("edge"))
    logger = logging.getLogger("edge.middleware")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        response = client.get("/api/v1/jobs/j-1", headers=bearer("CLIENT"))
        client.get("/nowhere")
        client.get("/healthz")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "Request handled."
    assert first["request_id"] == response.headers["x-request-id"]
    assert (first["method"], first["route"], first["status"]) == (
        "GET",
        "/api/v1/jobs/{job_id}",
        200,
    )
    assert first["duration_ms"] >= 0
    assert (second["route"], second["status"]) == (None, 404)
    assert (third["route"], third["status"]) == ("/healthz", 200)


def test_a_slow_command_does_not_hold_up_other_requests(
    app: Starlette, tmp_path: Path
) -> None:
    release = asyncio.Event()

    class SlowRpc(FakeRpc):
        async def acall(
            self, queue: str, envelope: Envelope, timeout_s: float
        ) -> Reply:
            await release.wait()
            return Reply(status=200)

    slow_app = create_app(
        EdgeSettings(jwt_key=KEY, media_dir=tmp_path / "media"), SlowRpc()
    )

    async def scenario() -> list[int]:
        from httpx2 import ASGITransport, AsyncClient

        transport = ASGITransport(app=slow_app)
        async with AsyncClient(transport=transport, base_url="http://edge") as http:
            slow = asyncio.create_task(
                http.get("/api/v1/jobs/me", headers=bearer("CLIENT"))
            )
            await asyncio.sleep(0.01)
            fast = await asyncio.wait_for(http.get("/healthz"), timeout=5)
            assert not slow.done()
            release.set()
            return [fast.status_code, (await slow).status_code]

    assert asyncio.run(scenario()) == [200, 200]
