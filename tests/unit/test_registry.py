"""The command registry: lookups, delete and add, hot updates and rollback."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from common.errors import BadRequest, CommandNotImplemented, NotFound
from common.runtime.context import CommandContext
from common.runtime.dispatcher import record_id
from common.runtime.registry import INITIAL_VERSION, CommandRegistry
from common.runtime.routes import command_routes, registry_for
from workup_pb import jobs_pb2, users_pb2
from workup_pb.envelope_pb2 import Envelope

CONTEXT = CommandContext(command="Echo", request_id="r-1")


def echo(
    context: CommandContext, request: users_pb2.PingRequest
) -> users_pb2.PingResponse:
    return users_pb2.PingResponse(echo=request.echo)


def ping(registry: CommandRegistry, text: str = "hi") -> str:
    command = registry.lookup("Echo")
    response = command.handler(CONTEXT, users_pb2.PingRequest(echo=text))
    assert isinstance(response, users_pb2.PingResponse)
    return response.echo


def write_module(path: Path, body: str) -> str:
    path.write_text(textwrap.dedent(body))
    return str(path)


def prefix_module(path: Path, prefix: str, version: str | None = None) -> str:
    declared = f"VERSION = {version!r}\n" if version else ""
    return write_module(
        path,
        f"""
        from workup_pb import users_pb2
        {declared}
        def handle(context, request):
            return users_pb2.PingResponse(echo={prefix!r} + request.echo)
        """,
    )


@pytest.fixture
def registry() -> CommandRegistry:
    registry = CommandRegistry()
    registry.register("Echo", echo, users_pb2.PingRequest)
    return registry


def test_lookup_returns_the_registered_command(registry: CommandRegistry) -> None:
    command = registry.lookup("Echo")

    assert command.request_type is users_pb2.PingRequest
    assert command.version == INITIAL_VERSION
    assert command.success_status == 200
    assert ping(registry) == "hi"


def test_an_unknown_command_is_not_implemented(registry: CommandRegistry) -> None:
    with pytest.raises(CommandNotImplemented) as raised:
        registry.lookup("Nope")

    assert raised.value.status == 501
    assert raised.value.message == "Not Implemented."


def test_registering_a_name_twice_is_refused(registry: CommandRegistry) -> None:
    with pytest.raises(ValueError, match="Echo"):
        registry.register("Echo", echo, users_pb2.PingRequest)


def test_a_deleted_command_is_not_implemented_until_added_again(
    registry: CommandRegistry,
) -> None:
    deleted = registry.delete("Echo")

    assert not deleted.enabled
    with pytest.raises(CommandNotImplemented):
        registry.lookup("Echo")
    assert registry.get("Echo").enabled is False

    assert registry.add("Echo").enabled
    assert ping(registry) == "hi"


def test_admin_changes_to_an_unknown_command_are_not_found(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        registry.delete("Nope")
    with pytest.raises(NotFound):
        registry.add("Nope")
    with pytest.raises(NotFound):
        registry.update("Nope", prefix_module(tmp_path / "m.py", "x"))
    with pytest.raises(NotFound):
        registry.rollback("Nope")


def test_update_swaps_the_handler_and_rollback_restores_it(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    old_handler = registry.lookup("Echo").handler
    source = prefix_module(tmp_path / "echo_v2.py", "v2:", version="2")

    new, previous = registry.update("Echo", source)

    assert (new.version, previous.version) == ("2", INITIAL_VERSION)
    assert new.request_type is users_pb2.PingRequest
    assert registry.previous_version("Echo") == INITIAL_VERSION
    assert ping(registry) == "v2:hi"
    # A message that looked the old handler up still runs the old code.
    response = old_handler(CONTEXT, users_pb2.PingRequest(echo="hi"))
    assert isinstance(response, users_pb2.PingResponse)
    assert response.echo == "hi"

    restored = registry.rollback("Echo")

    assert restored.version == INITIAL_VERSION
    assert ping(registry) == "hi"
    assert registry.previous_version("Echo") is None


def test_rollback_without_an_earlier_version_is_not_found(
    registry: CommandRegistry,
) -> None:
    with pytest.raises(NotFound, match="no earlier version"):
        registry.rollback("Echo")


def test_rollbacks_walk_back_through_every_update(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    registry.update("Echo", prefix_module(tmp_path / "a.py", "a:", version="a"))
    registry.update("Echo", prefix_module(tmp_path / "b.py", "b:", version="b"))

    assert registry.rollback("Echo").version == "a"
    assert ping(registry) == "a:hi"
    assert registry.rollback("Echo").version == INITIAL_VERSION


def test_each_load_is_a_fresh_module_even_from_the_same_file(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "echo_next.py"
    first, _ = registry.update("Echo", prefix_module(path, "one:"))
    # Rewritten in place, same size, most likely within the same second: a
    # bytecode cache checked by mtime and size would serve the old code.
    second, _ = registry.update("Echo", prefix_module(path, "two:"))

    assert first.version != second.version
    assert first.version in sys.modules
    assert second.version in sys.modules
    assert sys.modules[first.version] is not sys.modules[second.version]
    assert ping(registry) == "two:hi"


def test_update_keeps_a_deleted_command_disabled(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    registry.delete("Echo")

    new, _ = registry.update("Echo", prefix_module(tmp_path / "v2.py", "v2:"))

    assert not new.enabled
    with pytest.raises(CommandNotImplemented):
        registry.lookup("Echo")


def test_add_with_a_module_enables_it_and_takes_the_given_version(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    registry.delete("Echo")

    added = registry.add("Echo", prefix_module(tmp_path / "v3.py", "v3:"), "3")

    assert added.enabled
    assert added.version == "3"
    assert ping(registry) == "v3:hi"
    assert registry.rollback("Echo").version == INITIAL_VERSION


def test_add_loads_a_module_by_its_dotted_name(
    registry: CommandRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "handlers_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    prefix_module(package / "echo_dotted.py", "dotted:", version="d1")
    monkeypatch.syspath_prepend(str(tmp_path))

    added = registry.add("Echo", "handlers_pkg.echo_dotted")

    assert added.version == "d1"
    assert ping(registry) == "dotted:hi"


def test_a_new_command_needs_its_request_type_declared(
    registry: CommandRegistry, tmp_path: Path
) -> None:
    without = prefix_module(tmp_path / "plain.py", "p:")
    with pytest.raises(BadRequest, match="REQUEST_TYPE"):
        registry.add("Shout", without)

    declared = write_module(
        tmp_path / "shout.py",
        """
        from workup_pb import users_pb2
        REQUEST_TYPE = users_pb2.PingRequest
        SUCCESS_STATUS = 201
        def handle(context, request):
            return users_pb2.PingResponse(echo=request.echo.upper())
        """,
    )
    added = registry.add("Shout", declared)

    assert added.request_type is users_pb2.PingRequest
    assert added.success_status == 201
    assert registry.lookup("Shout").enabled


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("raise RuntimeError('broken at import')\n", "failed to load"),
        ("VERSION = '9'\n", "no handle function"),
        ("handle = 'not callable'\n", "no handle function"),
        ("REQUEST_TYPE = int\ndef handle(c, r):\n    return r\n", "REQUEST_TYPE"),
    ],
)
def test_a_bad_module_is_refused_and_the_handler_stays(
    registry: CommandRegistry, tmp_path: Path, body: str, match: str
) -> None:
    modules_before = set(sys.modules)

    with pytest.raises(BadRequest, match=match):
        registry.update("Echo", write_module(tmp_path / "bad.py", body))

    assert ping(registry) == "hi"
    assert registry.previous_version("Echo") is None
    assert set(sys.modules) - modules_before == set()


def test_a_missing_module_is_a_bad_request(registry: CommandRegistry) -> None:
    with pytest.raises(BadRequest, match="No handler module"):
        registry.update("Echo", "/nonexistent/handler.py")
    with pytest.raises(BadRequest):
        registry.update("Echo", "no_such_package.handler")


def test_routes_come_from_the_proto_options() -> None:
    users = command_routes(users_pb2.DESCRIPTOR.services_by_name["Users"])
    jobs = command_routes(jobs_pb2.DESCRIPTOR.services_by_name["Jobs"])

    assert users["Ping"].request_type is users_pb2.PingRequest
    assert users["Ping"].response_type is users_pb2.PingResponse
    assert users["Ping"].success_status == 200
    assert users["Ping"].queue == "queue_users"
    assert jobs["CreateJob"].success_status == 201
    assert jobs["CreateJob"].request_type is jobs_pb2.CreateJobRequest


def test_a_registry_built_from_routes_uses_their_types_and_status() -> None:
    routes = command_routes(jobs_pb2.DESCRIPTOR.services_by_name["Jobs"])

    def create_job(
        context: CommandContext, request: jobs_pb2.CreateJobRequest
    ) -> jobs_pb2.CreateJobResponse:
        return jobs_pb2.CreateJobResponse()

    registry = registry_for(routes, {"CreateJob": create_job})

    command = registry.lookup("CreateJob")
    assert command.request_type is jobs_pb2.CreateJobRequest
    assert command.success_status == 201
    with pytest.raises(ValueError, match="Nope"):
        registry_for(routes, {"Nope": create_job})


def test_a_context_knows_whether_its_deadline_passed() -> None:
    now_ms = int(time.time() * 1000)

    assert CommandContext("Echo", "r").remaining_s() is None
    assert not CommandContext("Echo", "r").expired
    assert CommandContext("Echo", "r", deadline_unix_ms=now_ms - 1).expired
    remaining = CommandContext("Echo", "r", deadline_unix_ms=now_ms + 60_000)
    assert 0 < (remaining.remaining_s() or 0) <= 60


def test_a_reply_record_is_bound_to_caller_command_and_request() -> None:
    base = Envelope(
        command="Login", caller_id="", idempotency_key="k", payload=b"alice:pw"
    )
    same = Envelope()
    same.CopyFrom(base)
    same.request_id = "another request id"
    other_body = Envelope()
    other_body.CopyFrom(base)
    other_body.payload = b"mallory:pw"
    other_caller = Envelope()
    other_caller.CopyFrom(base)
    other_caller.caller_id = "u2"

    assert record_id(same) == record_id(base)
    assert record_id(other_body) != record_id(base)
    assert record_id(other_caller) != record_id(base)
