"""The profile commands of the users service against the real FerretDB.

Handlers are called directly, through the map main.py merges, with accounts
registered by the real MongoUserStore; each test uses fresh random emails.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from bson import ObjectId
from google.protobuf.message import Message
from pymongo import MongoClient
from pymongo.database import Database

from common.errors import BadRequest, NotFound, Unavailable, WorkUpError
from common.runtime.context import CommandContext
from svc_users.profile_store import MongoProfileStore
from svc_users.profiles import ProfileHandlers, profile_handlers
from svc_users.store import MongoUserStore
from workup_pb import users_pb2
from workup_pb.users_pb2 import (
    AddFreelancerLanguageRequest,
    AddFreelancerSkillRequest,
    ClientGetPhotoRequest,
    ClientGetProfileRequest,
    ClientSetPhotoRequest,
    ClientSetProfileRequest,
    FreelancerGetPhotoRequest,
    FreelancerGetProfileBriefRequest,
    FreelancerGetProfileRequest,
    FreelancerGetResumeRequest,
    FreelancerSetPhotoRequest,
    FreelancerSetProfileRequest,
    FreelancerSetResumeRequest,
    GetFreelancerLanguagesRequest,
    GetFreelancerSkillsRequest,
    RemoveFreelancerLanguageRequest,
    RemoveFreelancerSkillRequest,
)

pytestmark = pytest.mark.integration

Db = Database[dict[str, Any]]

#: Each command with a request that is valid apart from its caller.
COMMANDS: dict[str, tuple[str, Callable[[str], Message]]] = {
    "ClientGetPhoto": ("CLIENT", lambda u: ClientGetPhotoRequest(user_id=u)),
    "ClientGetProfile": ("CLIENT", lambda u: ClientGetProfileRequest(user_id=u)),
    "ClientSetPhoto": (
        "CLIENT",
        lambda u: ClientSetPhotoRequest(user_id=u, photo_link="/static/a.png"),
    ),
    "ClientSetProfile": (
        "CLIENT",
        lambda u: ClientSetProfileRequest(user_id=u, city="Cairo"),
    ),
    "FreelancerGetPhoto": (
        "FREELANCER",
        lambda u: FreelancerGetPhotoRequest(user_id=u),
    ),
    "FreelancerGetProfileBrief": (
        "FREELANCER",
        lambda u: FreelancerGetProfileBriefRequest(user_id=u),
    ),
    "FreelancerGetProfile": (
        "FREELANCER",
        lambda u: FreelancerGetProfileRequest(user_id=u),
    ),
    "FreelancerGetResume": (
        "FREELANCER",
        lambda u: FreelancerGetResumeRequest(user_id=u),
    ),
    "FreelancerSetPhoto": (
        "FREELANCER",
        lambda u: FreelancerSetPhotoRequest(user_id=u, photo_link="/static/b.png"),
    ),
    "FreelancerSetProfile": (
        "FREELANCER",
        lambda u: FreelancerSetProfileRequest(user_id=u, city="Giza"),
    ),
    "FreelancerSetResume": (
        "FREELANCER",
        lambda u: FreelancerSetResumeRequest(user_id=u, resume_link="/static/c.pdf"),
    ),
    "AddFreelancerLanguage": (
        "FREELANCER",
        lambda u: AddFreelancerLanguageRequest(user_id=u, new_language="Arabic"),
    ),
    "AddFreelancerSkill": (
        "FREELANCER",
        lambda u: AddFreelancerSkillRequest(user_id=u, new_skill="Go"),
    ),
    "GetFreelancerLanguages": (
        "FREELANCER",
        lambda u: GetFreelancerLanguagesRequest(user_id=u),
    ),
    "GetFreelancerSkills": (
        "FREELANCER",
        lambda u: GetFreelancerSkillsRequest(user_id=u),
    ),
    "RemoveFreelancerLanguage": (
        "FREELANCER",
        lambda u: RemoveFreelancerLanguageRequest(user_id=u, language_to_remove="X"),
    ),
    "RemoveFreelancerSkill": (
        "FREELANCER",
        lambda u: RemoveFreelancerSkillRequest(user_id=u, skill_to_remove="X"),
    ),
}

MISSING = {"CLIENT": "Client not found", "FREELANCER": "Freelancer Doesn't Exist"}


@pytest.fixture(scope="module")
def users(mongo_database: Db) -> MongoUserStore:
    store = MongoUserStore(mongo_database)
    store.ensure_indexes()
    return store


@pytest.fixture(scope="module")
def handlers(mongo_database: Db) -> ProfileHandlers:
    return ProfileHandlers(MongoProfileStore(mongo_database))


def new_email() -> str:
    return f"profile-{uuid.uuid4().hex[:12]}@example.com"


def register_client(users: MongoUserStore, email: str | None = None) -> str:
    user_id = ObjectId()
    users.register(
        "CLIENT",
        user_id,
        {
            "email": email or new_email(),
            "password_hash": "not-a-real-hash",
            "client_name": "Acme",
            "industry": "Retail",
            "city": "Alexandria",
            "client_description": "We sell things",
            "employee_count": 12,
            "photo_link": None,
        },
    )
    return str(user_id)


def register_freelancer(
    users: MongoUserStore, email: str | None = None, **overrides: Any
) -> str:
    user_id = ObjectId()
    document: dict[str, Any] = {
        "email": email or new_email(),
        "password_hash": "not-a-real-hash",
        "fullName": "Grace Hopper",
        "job_title": "Engineer",
        "city": "Arlington",
        "birthdate": dt.datetime(1990, 5, 17, tzinfo=dt.UTC),
        "description": None,
        "photo_link": None,
        "resume_link": None,
        "skills": [],
        "languages": [],
        "achievements": [],
        "educations": [],
        "experiences": [],
    }
    document.update(overrides)
    users.register("FREELANCER", user_id, document)
    return str(user_id)


def register(users: MongoUserStore, kind: str, email: str | None = None) -> str:
    if kind == "CLIENT":
        return register_client(users, email)
    return register_freelancer(users, email)


def call(handlers: ProfileHandlers, command: str, request: Any) -> Any:
    context = CommandContext(
        command=command,
        request_id=uuid.uuid4().hex,
        caller_id=request.user_id,
        caller_role=COMMANDS[command][0],
    )
    return profile_handlers(handlers)[command](context, request)


def client_profile(handlers: ProfileHandlers, client: str) -> Any:
    request = ClientGetProfileRequest(user_id=client)
    return call(handlers, "ClientGetProfile", request)


def freelancer_profile(handlers: ProfileHandlers, freelancer: str) -> Any:
    request = FreelancerGetProfileRequest(user_id=freelancer)
    return call(handlers, "FreelancerGetProfile", request)


def set_email(handlers: ProfileHandlers, kind: str, user_id: str, email: str) -> Any:
    if kind == "CLIENT":
        request: Any = ClientSetProfileRequest(user_id=user_id, email=email)
        return call(handlers, "ClientSetProfile", request)
    request = FreelancerSetProfileRequest(user_id=user_id, email=email)
    return call(handlers, "FreelancerSetProfile", request)


def stored_email(mongo_database: Db, kind: str, user_id: str) -> str:
    collection = "client" if kind == "CLIENT" else "Freelancer"
    found = mongo_database[collection].find_one({"_id": ObjectId(user_id)})
    assert found is not None
    return str(found["email"])


def claims_of(mongo_database: Db, user_id: str) -> list[str]:
    return sorted(
        claim["_id"]
        for claim in mongo_database["emails"].find({"user_id": ObjectId(user_id)})
    )


def holders_of(mongo_database: Db, email: str) -> int:
    return sum(
        mongo_database[name].count_documents({"email": email})
        for name in ("client", "Freelancer")
    )


def run_together(*actions: Callable[[], Any]) -> list[Any]:
    """Runs the actions on threads released at once; returns result or error each."""
    start = threading.Barrier(len(actions))

    def attempt(action: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return action()
        except WorkUpError as error:
            return error

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(attempt, actions))


# The command map


def test_the_map_serves_exactly_the_profile_commands_named_in_users_proto(
    handlers: ProfileHandlers,
) -> None:
    served = profile_handlers(handlers)
    declared = users_pb2.DESCRIPTOR.services_by_name["Users"].methods_by_name

    assert set(served) == set(COMMANDS)
    assert set(served) <= set(declared)


# Callers that are not there


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    "user_id", ["", "not-an-object-id", "0123456789abcdef0123456", "zz" * 12]
)
def test_a_missing_or_malformed_caller_id_is_a_404(
    handlers: ProfileHandlers, command: str, user_id: str
) -> None:
    kind, build = COMMANDS[command]

    with pytest.raises(NotFound) as raised:
        call(handlers, command, build(user_id))

    assert raised.value.message == MISSING[kind]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unknown_caller_is_a_404(handlers: ProfileHandlers, command: str) -> None:
    kind, build = COMMANDS[command]

    with pytest.raises(NotFound) as raised:
        call(handlers, command, build(str(ObjectId())))

    assert raised.value.message == MISSING[kind]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_account_of_the_other_type_is_a_404(
    handlers: ProfileHandlers, users: MongoUserStore, command: str
) -> None:
    kind, build = COMMANDS[command]
    other = register(users, "FREELANCER" if kind == "CLIENT" else "CLIENT")

    with pytest.raises(NotFound):
        call(handlers, command, build(other))


# Client profile


def test_a_client_reads_the_profile_it_registered_with(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    email = new_email()
    client = register_client(users, email)

    profile = client_profile(handlers, client)

    assert profile == users_pb2.ClientGetProfileResponse(
        name="Acme",
        email=email,
        city="Alexandria",
        description="We sell things",
        industry="Retail",
        employee_count=12,
    )


def test_a_client_profile_write_is_read_back_and_answers_success(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    client = register_client(users)
    email = new_email()

    reply = call(
        handlers,
        "ClientSetProfile",
        ClientSetProfileRequest(
            user_id=client,
            name="Globex",
            email=email,
            city="Luxor",
            description="Bigger now",
            industry="Energy",
            employee_count=0,
        ),
    )
    profile = client_profile(handlers, client)

    assert reply.success is True
    assert profile == users_pb2.ClientGetProfileResponse(
        name="Globex",
        email=email,
        city="Luxor",
        description="Bigger now",
        industry="Energy",
        employee_count=0,
    )


def test_a_client_profile_write_changes_only_the_fields_sent(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db
) -> None:
    email = new_email()
    client = register_client(users, email)

    call(
        handlers,
        "ClientSetProfile",
        ClientSetProfileRequest(user_id=client, city="Aswan"),
    )
    profile = client_profile(handlers, client)

    assert profile.city == "Aswan"
    assert (profile.name, profile.email, profile.industry) == ("Acme", email, "Retail")
    assert (profile.description, profile.employee_count) == ("We sell things", 12)
    stored = mongo_database["client"].find_one({"_id": ObjectId(client)})
    assert stored is not None
    assert stored["password_hash"] == "not-a-real-hash"


def test_an_empty_client_profile_write_changes_nothing(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    client = register_client(users)
    before = client_profile(handlers, client)

    reply = call(handlers, "ClientSetProfile", ClientSetProfileRequest(user_id=client))

    assert reply.success is True
    after = client_profile(handlers, client)
    assert after == before


# Freelancer profile


def test_a_freelancer_reads_the_profile_it_registered_with(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    email = new_email()
    freelancer = register_freelancer(users, email)

    profile = freelancer_profile(handlers, freelancer)

    assert (profile.email, profile.full_name) == (email, "Grace Hopper")
    assert (profile.city, profile.job_title) == ("Arlington", "Engineer")
    assert not profile.HasField("description")
    assert profile.birth_date.ToDatetime(tzinfo=dt.UTC) == dt.datetime(
        1990, 5, 17, tzinfo=dt.UTC
    )
    assert list(profile.languages) == []
    assert list(profile.skills) == []


def test_a_freelancer_profile_write_is_read_back(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)
    email = new_email()

    call(
        handlers,
        "FreelancerSetProfile",
        FreelancerSetProfileRequest(
            user_id=freelancer,
            email=email,
            full_name="Ada Lovelace",
            city="London",
            job_title="Analyst",
            description="Notes on engines",
            birth_date="1815-12-10",
        ),
    )
    profile = freelancer_profile(handlers, freelancer)
    brief = call(
        handlers,
        "FreelancerGetProfileBrief",
        FreelancerGetProfileBriefRequest(user_id=freelancer),
    )

    assert (profile.email, profile.full_name) == (email, "Ada Lovelace")
    assert (profile.city, profile.job_title) == ("London", "Analyst")
    assert profile.description == "Notes on engines"
    assert profile.birth_date.ToDatetime(tzinfo=dt.UTC) == dt.datetime(
        1815, 12, 10, tzinfo=dt.UTC
    )
    assert brief == users_pb2.FreelancerGetProfileBriefResponse(
        email=email, full_name="Ada Lovelace"
    )


@pytest.mark.parametrize(
    ("birth_date", "expected"),
    [
        ("2000-02-29T12:30:00Z", dt.datetime(2000, 2, 29, 12, 30, tzinfo=dt.UTC)),
        ("946684800000", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_a_freelancer_birth_date_is_accepted_in_every_api_format(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    birth_date: str,
    expected: dt.datetime,
) -> None:
    freelancer = register_freelancer(users)

    call(
        handlers,
        "FreelancerSetProfile",
        FreelancerSetProfileRequest(user_id=freelancer, birth_date=birth_date),
    )
    profile = freelancer_profile(handlers, freelancer)

    assert profile.birth_date.ToDatetime(tzinfo=dt.UTC) == expected


def test_a_freelancer_profile_write_changes_only_the_fields_sent(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    email = new_email()
    freelancer = register_freelancer(users, email, skills=["Go"])
    before = freelancer_profile(handlers, freelancer)

    call(
        handlers,
        "FreelancerSetProfile",
        FreelancerSetProfileRequest(user_id=freelancer, job_title="Architect"),
    )
    after = freelancer_profile(handlers, freelancer)

    before.job_title = "Architect"
    assert after == before
    assert list(after.skills) == ["Go"]


# Photo and resume links


LINKS = [
    ("ClientSetPhoto", "ClientGetPhoto", "photo_link", "CLIENT"),
    ("FreelancerSetPhoto", "FreelancerGetPhoto", "photo_link", "FREELANCER"),
    ("FreelancerSetResume", "FreelancerGetResume", "resume_link", "FREELANCER"),
]


def link_request(command: str, user_id: str, link: str | None) -> Any:
    request_type = getattr(users_pb2, f"{command}Request")
    field = "resume_link" if "Resume" in command else "photo_link"
    return request_type(user_id=user_id, **({field: link} if link is not None else {}))


@pytest.mark.parametrize(("set_command", "get_command", "field", "kind"), LINKS)
def test_a_link_is_null_until_set_then_read_back_then_cleared_when_unset(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    set_command: str,
    get_command: str,
    field: str,
    kind: str,
) -> None:
    user_id = register(users, kind)
    get_request = getattr(users_pb2, f"{get_command}Request")(user_id=user_id)

    initially = call(handlers, get_command, get_request)
    call(handlers, set_command, link_request(set_command, user_id, "/static/x.png"))
    after_set = call(handlers, get_command, get_request)
    url = "https://cdn.example.com/a/b.pdf?v=2"
    call(handlers, set_command, link_request(set_command, user_id, url))
    after_url = call(handlers, get_command, get_request)
    call(handlers, set_command, link_request(set_command, user_id, None))
    after_clear = call(handlers, get_command, get_request)

    assert not initially.HasField(field)
    assert getattr(after_set, field) == "/static/x.png"
    assert getattr(after_url, field) == url
    assert not after_clear.HasField(field)


@pytest.mark.parametrize(("set_command", "get_command", "field", "kind"), LINKS)
@pytest.mark.parametrize(
    "link",
    [
        "",
        "static/no-leading-slash.png",
        "//evil.example.com/x.png",
        "/\\evil.example.com/x.png",
        "javascript:alert(1)",
        "ftp://files.example.com/x.png",
        "https://",
        "http://[::1/x",
        "/static/with space.png",
        "/static/line\nbreak.png",
        "/" + "a" * 2048,
    ],
)
def test_a_link_that_is_not_a_path_or_http_url_is_a_400_and_not_stored(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    set_command: str,
    get_command: str,
    field: str,
    kind: str,
    link: str,
) -> None:
    user_id = register(users, kind)
    call(handlers, set_command, link_request(set_command, user_id, "/static/ok.png"))

    with pytest.raises(BadRequest) as raised:
        call(handlers, set_command, link_request(set_command, user_id, link))

    json_name = "resumeLink" if field == "resume_link" else "photoLink"
    assert raised.value.message is not None
    assert raised.value.message.startswith(json_name)
    get_request = getattr(users_pb2, f"{get_command}Request")(user_id=user_id)
    assert getattr(call(handlers, get_command, get_request), field) == "/static/ok.png"


# Email changes


@pytest.mark.parametrize("kind", ["CLIENT", "FREELANCER"])
def test_an_email_change_moves_the_login_and_frees_the_old_address(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db, kind: str
) -> None:
    old_email, new = new_email(), new_email()
    user_id = register(users, kind, old_email)

    set_email(handlers, kind, user_id, f"  {new.upper()} ")

    assert stored_email(mongo_database, kind, user_id) == new
    assert claims_of(mongo_database, user_id) == [new]
    account = users.find_account(new)
    assert account is not None
    assert account.user_id == user_id
    assert users.find_account(old_email) is None
    # The old address is free for anyone again.
    register_client(users, old_email)


@pytest.mark.parametrize("kind", ["CLIENT", "FREELANCER"])
def test_setting_the_current_email_in_another_case_changes_nothing(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db, kind: str
) -> None:
    email = new_email()
    user_id = register(users, kind, email)

    set_email(handlers, kind, user_id, email.upper())

    assert stored_email(mongo_database, kind, user_id) == email
    assert claims_of(mongo_database, user_id) == [email]


@pytest.mark.parametrize("holder_kind", ["CLIENT", "FREELANCER"])
@pytest.mark.parametrize("kind", ["CLIENT", "FREELANCER"])
def test_an_email_held_by_another_account_is_a_400_and_changes_nothing(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    mongo_database: Db,
    kind: str,
    holder_kind: str,
) -> None:
    taken, own = new_email(), new_email()
    holder = register(users, holder_kind, taken)
    user_id = register(users, kind, own)
    if kind == "CLIENT":
        request: Any = ClientSetProfileRequest(
            user_id=user_id, email=f" {taken.upper()}", city="Changed"
        )
        command, get_command = "ClientSetProfile", "ClientGetProfile"
    else:
        request = FreelancerSetProfileRequest(
            user_id=user_id, email=f" {taken.upper()}", city="Changed"
        )
        command, get_command = "FreelancerSetProfile", "FreelancerGetProfile"
    get_request = getattr(users_pb2, f"{get_command}Request")(user_id=user_id)
    before = call(handlers, get_command, get_request)

    with pytest.raises(BadRequest) as raised:
        call(handlers, command, request)

    assert raised.value.message == "Email already in use"
    assert call(handlers, get_command, get_request) == before
    assert stored_email(mongo_database, holder_kind, holder) == taken
    assert claims_of(mongo_database, user_id) == [own]
    assert claims_of(mongo_database, holder) == [taken]


@pytest.mark.parametrize("round_number", range(5))
def test_two_accounts_racing_for_one_new_email_exactly_one_wins(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    mongo_database: Db,
    round_number: int,
) -> None:
    wanted = new_email()
    racers = [
        ("CLIENT", register_client(users)),
        ("FREELANCER", register_freelancer(users)),
        ("CLIENT", register_client(users)),
    ]
    before = {
        user_id: stored_email(mongo_database, k, user_id) for k, user_id in racers
    }

    outcomes = run_together(
        *(
            lambda kind=kind, user_id=user_id: set_email(
                handlers, kind, user_id, wanted
            )
            for kind, user_id in racers
        )
    )

    winners = [
        racer
        for racer, outcome in zip(racers, outcomes, strict=True)
        if not isinstance(outcome, WorkUpError)
    ]
    losers = [outcome for outcome in outcomes if isinstance(outcome, WorkUpError)]
    assert len(winners) == 1
    assert all(isinstance(error, BadRequest) for error in losers)
    winner_kind, winner = winners[0]
    assert holders_of(mongo_database, wanted) == 1
    assert stored_email(mongo_database, winner_kind, winner) == wanted
    claim = mongo_database["emails"].find_one({"_id": wanted})
    assert claim is not None
    assert claim["user_id"] == ObjectId(winner)
    for kind, user_id in racers:
        if user_id != winner:
            assert stored_email(mongo_database, kind, user_id) == before[user_id]
            assert claims_of(mongo_database, user_id) == [before[user_id]]


@pytest.mark.parametrize("kind", ["CLIENT", "FREELANCER"])
def test_concurrent_email_changes_of_one_account_leave_one_claim_for_its_email(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db, kind: str
) -> None:
    user_id = register(users, kind)
    targets = [new_email() for _ in range(3)]

    outcomes = run_together(
        *(
            lambda email=email: set_email(handlers, kind, user_id, email)
            for email in targets
        )
    )

    assert not [outcome for outcome in outcomes if isinstance(outcome, WorkUpError)]
    final = stored_email(mongo_database, kind, user_id)
    assert final in targets
    assert claims_of(mongo_database, user_id) == [final]


def test_a_claim_left_behind_by_an_unfinished_change_is_taken_over_when_old(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db
) -> None:
    stale_owner = register_client(users)
    wanted = new_email()
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    mongo_database["emails"].insert_one(
        {
            "_id": wanted,
            "user_id": ObjectId(stale_owner),
            "type": "CLIENT",
            "claimed_at": long_ago,
        }
    )
    freelancer = register_freelancer(users)

    set_email(handlers, "FREELANCER", freelancer, wanted)

    assert stored_email(mongo_database, "FREELANCER", freelancer) == wanted
    assert wanted not in claims_of(mongo_database, stale_owner)


def test_a_fresh_claim_of_an_unfinished_change_still_blocks_others(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db
) -> None:
    owner = register_client(users)
    wanted = new_email()
    mongo_database["emails"].insert_one(
        {
            "_id": wanted,
            "user_id": ObjectId(owner),
            "type": "CLIENT",
            "claimed_at": dt.datetime.now(dt.UTC),
        }
    )
    freelancer = register_freelancer(users)

    with pytest.raises(BadRequest):
        set_email(handlers, "FREELANCER", freelancer, wanted)


# Input limits


def oversized(field: str) -> str:
    if field == "email":
        return "a" * 250 + "@example.com"
    return "x" * 2001


@pytest.mark.parametrize(
    ("command", "field", "json_name"),
    [
        ("ClientSetProfile", "name", "name"),
        ("ClientSetProfile", "email", "email"),
        ("ClientSetProfile", "city", "city"),
        ("ClientSetProfile", "description", "description"),
        ("ClientSetProfile", "industry", "industry"),
        ("FreelancerSetProfile", "email", "email"),
        ("FreelancerSetProfile", "full_name", "fullName"),
        ("FreelancerSetProfile", "city", "city"),
        ("FreelancerSetProfile", "job_title", "jobTitle"),
        ("FreelancerSetProfile", "description", "description"),
        ("FreelancerSetProfile", "birth_date", "birthDate"),
    ],
)
def test_an_oversized_profile_field_is_a_400_naming_it_and_changes_nothing(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    command: str,
    field: str,
    json_name: str,
) -> None:
    kind = COMMANDS[command][0]
    user_id = register(users, kind)
    get_command = "ClientGetProfile" if kind == "CLIENT" else "FreelancerGetProfile"
    get_request = getattr(users_pb2, f"{get_command}Request")(user_id=user_id)
    before = call(handlers, get_command, get_request)
    fields = {"city": "Changed", field: oversized(field)}
    request = getattr(users_pb2, f"{command}Request")(user_id=user_id, **fields)

    with pytest.raises(BadRequest) as raised:
        call(handlers, command, request)

    assert raised.value.message is not None
    assert raised.value.message.startswith(json_name)
    assert call(handlers, get_command, get_request) == before


@pytest.mark.parametrize(
    ("command", "request_factory", "json_name"),
    [
        (
            "AddFreelancerSkill",
            lambda u, v: AddFreelancerSkillRequest(user_id=u, new_skill=v),
            "newSkill",
        ),
        (
            "AddFreelancerLanguage",
            lambda u, v: AddFreelancerLanguageRequest(user_id=u, new_language=v),
            "newLanguage",
        ),
        (
            "RemoveFreelancerSkill",
            lambda u, v: RemoveFreelancerSkillRequest(user_id=u, skill_to_remove=v),
            "skillToRemove",
        ),
        (
            "RemoveFreelancerLanguage",
            lambda u, v: RemoveFreelancerLanguageRequest(
                user_id=u, language_to_remove=v
            ),
            "languageToRemove",
        ),
    ],
)
@pytest.mark.parametrize("value", ["x" * 2001, "", "   "])
def test_an_oversized_or_blank_list_item_is_a_400_naming_the_field(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    command: str,
    request_factory: Callable[[str, str], Any],
    json_name: str,
    value: str,
) -> None:
    freelancer = register_freelancer(users, skills=["Go"], languages=["Arabic"])

    with pytest.raises(BadRequest) as raised:
        call(handlers, command, request_factory(freelancer, value))

    assert raised.value.message is not None
    assert raised.value.message.startswith(json_name)
    stored = freelancer_profile(handlers, freelancer)
    assert (list(stored.skills), list(stored.languages)) == (["Go"], ["Arabic"])


@pytest.mark.parametrize(
    ("command", "fields", "json_name"),
    [
        ("ClientSetProfile", {"name": " "}, "name"),
        ("ClientSetProfile", {"employee_count": -1}, "employeeCount"),
        ("ClientSetProfile", {"email": "x" * 255}, "email"),
        ("FreelancerSetProfile", {"full_name": ""}, "fullName"),
        ("FreelancerSetProfile", {"email": ""}, "email"),
        ("FreelancerSetProfile", {"birth_date": "17/05/1990"}, "birthDate"),
    ],
)
def test_a_malformed_profile_field_is_a_400_naming_it(
    handlers: ProfileHandlers,
    users: MongoUserStore,
    command: str,
    fields: dict[str, Any],
    json_name: str,
) -> None:
    user_id = register(users, COMMANDS[command][0])
    request = getattr(users_pb2, f"{command}Request")(user_id=user_id, **fields)

    with pytest.raises(BadRequest) as raised:
        call(handlers, command, request)

    assert raised.value.message is not None
    assert raised.value.message.startswith(json_name)


# Skills and languages


def skills_of(handlers: ProfileHandlers, freelancer: str) -> list[str]:
    request = GetFreelancerSkillsRequest(user_id=freelancer)
    return list(call(handlers, "GetFreelancerSkills", request).skills)


def languages_of(handlers: ProfileHandlers, freelancer: str) -> list[str]:
    request = GetFreelancerLanguagesRequest(user_id=freelancer)
    return list(call(handlers, "GetFreelancerLanguages", request).languages)


def add_skill(handlers: ProfileHandlers, freelancer: str, skill: str) -> Any:
    request = AddFreelancerSkillRequest(user_id=freelancer, new_skill=skill)
    return call(handlers, "AddFreelancerSkill", request)


def add_language(handlers: ProfileHandlers, freelancer: str, language: str) -> Any:
    request = AddFreelancerLanguageRequest(user_id=freelancer, new_language=language)
    return call(handlers, "AddFreelancerLanguage", request)


def remove_skill(handlers: ProfileHandlers, freelancer: str, skill: str) -> Any:
    request = RemoveFreelancerSkillRequest(user_id=freelancer, skill_to_remove=skill)
    return call(handlers, "RemoveFreelancerSkill", request)


def remove_language(handlers: ProfileHandlers, freelancer: str, language: str) -> Any:
    request = RemoveFreelancerLanguageRequest(
        user_id=freelancer, language_to_remove=language
    )
    return call(handlers, "RemoveFreelancerLanguage", request)


def test_a_new_freelancer_has_empty_skill_and_language_lists(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)

    assert skills_of(handlers, freelancer) == []
    assert languages_of(handlers, freelancer) == []


def test_an_exact_repeat_skill_is_ignored_but_another_case_is_kept(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)

    for skill in ["Go", "Python", "Go", "go"]:
        assert add_skill(handlers, freelancer, skill) == (
            users_pb2.AddFreelancerSkillResponse()
        )

    assert skills_of(handlers, freelancer) == ["Go", "Python", "go"]


def test_languages_keep_repeats_in_the_order_added(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)

    for language in ["English", "French", "English"]:
        add_language(handlers, freelancer, language)

    assert languages_of(handlers, freelancer) == ["English", "French", "English"]


def test_removing_a_language_drops_only_its_first_occurrence(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(
        users, languages=["English", "French", "English", "German"]
    )

    remove_language(handlers, freelancer, "English")

    assert languages_of(handlers, freelancer) == ["French", "English", "German"]


def test_removing_a_skill_drops_it_and_keeps_the_order_of_the_rest(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users, skills=["Go", "Python", "Rust"])

    remove_skill(handlers, freelancer, "Python")

    assert skills_of(handlers, freelancer) == ["Go", "Rust"]


def test_removing_a_skill_or_language_that_is_absent_succeeds_and_changes_nothing(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users, skills=["Go"], languages=["Arabic"])

    remove_skill(handlers, freelancer, "go")
    remove_language(handlers, freelancer, "Klingon")

    assert skills_of(handlers, freelancer) == ["Go"]
    assert languages_of(handlers, freelancer) == ["Arabic"]


@pytest.mark.parametrize("stored", [None, "missing"])
def test_lists_orig_left_null_read_as_empty_and_accept_adds_and_removes(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db, stored: Any
) -> None:
    freelancer = register_freelancer(users, skills=None, languages=None)
    if stored == "missing":
        mongo_database["Freelancer"].update_one(
            {"_id": ObjectId(freelancer)}, {"$unset": {"skills": "", "languages": ""}}
        )

    remove_skill(handlers, freelancer, "Go")
    assert skills_of(handlers, freelancer) == []
    assert languages_of(handlers, freelancer) == []
    add_skill(handlers, freelancer, "Go")
    add_language(handlers, freelancer, "Arabic")

    assert skills_of(handlers, freelancer) == ["Go"]
    assert languages_of(handlers, freelancer) == ["Arabic"]


def test_concurrent_adds_lose_no_language_and_never_repeat_a_skill(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)
    languages = [f"Language {n}" for n in range(8)]

    run_together(*(lambda: add_skill(handlers, freelancer, "Go") for _ in range(8)))
    run_together(
        *(
            lambda language=language: add_language(handlers, freelancer, language)
            for language in languages
        )
    )

    assert skills_of(handlers, freelancer) == ["Go"]
    assert sorted(languages_of(handlers, freelancer)) == languages


def test_concurrent_removes_of_a_repeated_language_each_drop_one(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(
        users, languages=["English", "French", "English", "English"]
    )

    outcomes = run_together(
        lambda: remove_language(handlers, freelancer, "English"),
        lambda: remove_language(handlers, freelancer, "English"),
    )

    assert not [outcome for outcome in outcomes if isinstance(outcome, WorkUpError)]
    assert languages_of(handlers, freelancer) == ["French", "English"]


# A lost database


def test_an_unreachable_database_is_a_503() -> None:
    # Nothing listens on port 1; pymongo gives up after the selection timeout.
    client: MongoClient[dict[str, Any]] = MongoClient(
        "mongodb://127.0.0.1:1", serverSelectionTimeoutMS=200, connectTimeoutMS=200
    )
    handlers = ProfileHandlers(MongoProfileStore(client["unreachable"]))
    try:
        with pytest.raises(Unavailable):
            call(
                handlers,
                "ClientGetProfile",
                ClientGetProfileRequest(user_id=str(ObjectId())),
            )
        with pytest.raises(Unavailable):
            add_skill(handlers, str(ObjectId()), "Go")
    finally:
        client.close()


def test_an_email_held_by_an_account_without_a_claim_is_still_a_400(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db
) -> None:
    legacy_email = new_email()
    # An account imported from Orig's database: no claim in `emails`.
    mongo_database["client"].insert_one(
        {"_id": ObjectId(), "email": legacy_email, "client_name": "Old"}
    )
    own = new_email()
    client = register_client(users, own)

    with pytest.raises(BadRequest):
        set_email(handlers, "CLIENT", client, legacy_email)

    assert stored_email(mongo_database, "CLIENT", client) == own
    assert claims_of(mongo_database, client) == [own]
    assert mongo_database["emails"].find_one({"_id": legacy_email}) is None


# Writes to one account from many places at once


def test_concurrent_writes_of_different_fields_of_one_freelancer_all_land(
    handlers: ProfileHandlers, users: MongoUserStore
) -> None:
    freelancer = register_freelancer(users)
    email = new_email()

    outcomes = run_together(
        lambda: call(
            handlers,
            "FreelancerSetPhoto",
            FreelancerSetPhotoRequest(user_id=freelancer, photo_link="/p.png"),
        ),
        lambda: call(
            handlers,
            "FreelancerSetResume",
            FreelancerSetResumeRequest(user_id=freelancer, resume_link="/r.pdf"),
        ),
        lambda: call(
            handlers,
            "FreelancerSetProfile",
            FreelancerSetProfileRequest(user_id=freelancer, city="Paris"),
        ),
        lambda: set_email(handlers, "FREELANCER", freelancer, email),
        lambda: add_skill(handlers, freelancer, "Go"),
        lambda: add_language(handlers, freelancer, "French"),
    )

    assert not [outcome for outcome in outcomes if isinstance(outcome, WorkUpError)]
    profile = freelancer_profile(handlers, freelancer)
    assert (profile.email, profile.city) == (email, "Paris")
    assert (list(profile.skills), list(profile.languages)) == (["Go"], ["French"])
    photo = call(
        handlers, "FreelancerGetPhoto", FreelancerGetPhotoRequest(user_id=freelancer)
    )
    resume = call(
        handlers, "FreelancerGetResume", FreelancerGetResumeRequest(user_id=freelancer)
    )
    assert (photo.photo_link, resume.resume_link) == ("/p.png", "/r.pdf")


def hold_lock(mongo_database: Db, user_id: str, expires_in_s: float) -> None:
    mongo_database["account_locks"].insert_one(
        {
            "_id": ObjectId(user_id),
            "token": ObjectId(),
            "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in_s),
        }
    )


def test_a_writer_blocked_by_a_live_lock_for_its_whole_wait_gets_a_503(
    users: MongoUserStore, mongo_database: Db
) -> None:
    impatient = ProfileHandlers(MongoProfileStore(mongo_database, lock_wait_s=0.2))
    freelancer = register_freelancer(users)
    hold_lock(mongo_database, freelancer, expires_in_s=60)

    with pytest.raises(Unavailable):
        add_skill(impatient, freelancer, "Go")

    mongo_database["account_locks"].delete_one({"_id": ObjectId(freelancer)})
    add_skill(impatient, freelancer, "Go")
    assert skills_of(impatient, freelancer) == ["Go"]


def test_a_lock_left_by_a_dead_writer_is_broken_once_its_lease_is_over(
    handlers: ProfileHandlers, users: MongoUserStore, mongo_database: Db
) -> None:
    freelancer = register_freelancer(users)
    hold_lock(mongo_database, freelancer, expires_in_s=-1)

    add_language(handlers, freelancer, "Arabic")

    assert languages_of(handlers, freelancer) == ["Arabic"]
    assert mongo_database["account_locks"].find_one({"_id": ObjectId(freelancer)}) is (
        None
    )
