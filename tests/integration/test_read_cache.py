"""The users read cache on real Redis: fresh after writes, private per caller."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from google.protobuf.message import Message

from common import connections
from common.config import Settings
from common.runtime.context import CommandContext
from svc_users.read_cache import RedisReadCache
from workup_pb import users_pb2 as pb

pytestmark = pytest.mark.integration


class RecordingHandlers:
    """Handlers that count their reads, so a test can tell a cache hit."""

    def __init__(self) -> None:
        self.skills: dict[str, list[str]] = {}
        self.reads = 0

    def get(self, context: CommandContext, request: Any) -> Message:
        self.reads += 1
        return pb.GetFreelancerSkillsResponse(
            skills=self.skills.get(request.user_id, [])
        )

    def add(self, context: CommandContext, request: Any) -> Message:
        self.skills.setdefault(request.user_id, []).append(request.new_skill)
        return pb.AddFreelancerSkillResponse()


@pytest.fixture
def cached(settings: Settings) -> tuple[RecordingHandlers, dict[str, Any]]:
    book = RecordingHandlers()
    cache = RedisReadCache(
        connections.connect_redis(settings), prefix=f"test-cache-{uuid.uuid4().hex}"
    )
    handlers = cache.wrap(
        {"GetFreelancerSkills": book.get, "AddFreelancerSkill": book.add},
        {"GetFreelancerSkills": pb.GetFreelancerSkillsResponse},
    )
    return book, handlers


def call(handlers: dict[str, Any], name: str, request: Message) -> Any:
    return handlers[name](CommandContext(command=name, request_id="r"), request)


def test_a_repeated_read_is_served_from_the_cache(cached) -> None:
    book, handlers = cached
    read = pb.GetFreelancerSkillsRequest(user_id="u1")

    first = call(handlers, "GetFreelancerSkills", read)
    second = call(handlers, "GetFreelancerSkills", read)

    assert first == second
    assert book.reads == 1


def test_a_read_after_a_write_sees_the_write(cached) -> None:
    _, handlers = cached
    read = pb.GetFreelancerSkillsRequest(user_id="u1")
    call(handlers, "GetFreelancerSkills", read)

    call(
        handlers,
        "AddFreelancerSkill",
        pb.AddFreelancerSkillRequest(user_id="u1", new_skill="go"),
    )

    assert list(call(handlers, "GetFreelancerSkills", read).skills) == ["go"]


def test_one_callers_cached_answer_never_reaches_another(cached) -> None:
    book, handlers = cached
    call(
        handlers,
        "AddFreelancerSkill",
        pb.AddFreelancerSkillRequest(user_id="u1", new_skill="secret"),
    )
    call(handlers, "GetFreelancerSkills", pb.GetFreelancerSkillsRequest(user_id="u1"))

    other = call(
        handlers, "GetFreelancerSkills", pb.GetFreelancerSkillsRequest(user_id="u2")
    )

    assert list(other.skills) == []
    assert book.reads == 2
