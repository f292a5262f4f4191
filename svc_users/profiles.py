"""Profiles, photo and resume links, skills and languages (API.md R10-R20, R24-R30).

Each handler serves one users command for the caller in `request.user_id`,
which the edge fills from the token. A caller id that is missing, is not an
ObjectId, or names no account of the route's type is a 404: Orig's 500s and
501s for a missing account are crashes, not contract.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bson import ObjectId

from common.dates import parse_date
from common.errors import BadRequest, NotFound
from common.runtime.context import CommandContext, Handler
from svc_users.accounts import MAX_TEXT_LENGTH
from svc_users.profile_store import ListField, MongoProfileStore
from svc_users.store import AccountType, EmailTaken, check_email
from workup_pb.users_pb2 import (
    AddFreelancerLanguageRequest,
    AddFreelancerLanguageResponse,
    AddFreelancerSkillRequest,
    AddFreelancerSkillResponse,
    ClientGetPhotoRequest,
    ClientGetPhotoResponse,
    ClientGetProfileRequest,
    ClientGetProfileResponse,
    ClientSetPhotoRequest,
    ClientSetPhotoResponse,
    ClientSetProfileRequest,
    ClientSetProfileResponse,
    FreelancerGetPhotoRequest,
    FreelancerGetPhotoResponse,
    FreelancerGetProfileBriefRequest,
    FreelancerGetProfileBriefResponse,
    FreelancerGetProfileRequest,
    FreelancerGetProfileResponse,
    FreelancerGetResumeRequest,
    FreelancerGetResumeResponse,
    FreelancerSetPhotoRequest,
    FreelancerSetPhotoResponse,
    FreelancerSetProfileRequest,
    FreelancerSetProfileResponse,
    FreelancerSetResumeRequest,
    FreelancerSetResumeResponse,
    GetFreelancerLanguagesRequest,
    GetFreelancerLanguagesResponse,
    GetFreelancerSkillsRequest,
    GetFreelancerSkillsResponse,
    RemoveFreelancerLanguageRequest,
    RemoveFreelancerLanguageResponse,
    RemoveFreelancerSkillRequest,
    RemoveFreelancerSkillResponse,
)

#: Longest photo or resume link accepted, in characters.
MAX_LINK_LENGTH = 2048

#: 404 messages; API.md gives the freelancer one for the CV commands.
MISSING: dict[AccountType, str] = {
    "CLIENT": "Client not found",
    "FREELANCER": "Freelancer Doesn't Exist",
}

_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


class ProfileHandlers:
    """The profile commands of the users service, over one profile store."""

    def __init__(self, store: MongoProfileStore) -> None:
        self._store = store

    def client_get_photo(
        self, context: CommandContext, request: ClientGetPhotoRequest
    ) -> ClientGetPhotoResponse:
        client = self._find("CLIENT", request.user_id, "photo_link")
        return ClientGetPhotoResponse(**_present(photo_link=client.get("photo_link")))

    def client_get_profile(
        self, context: CommandContext, request: ClientGetProfileRequest
    ) -> ClientGetProfileResponse:
        client = self._find(
            "CLIENT",
            request.user_id,
            "client_name",
            "email",
            "city",
            "client_description",
            "industry",
            "employee_count",
        )
        return ClientGetProfileResponse(
            **_present(
                name=client.get("client_name"),
                email=client.get("email"),
                city=client.get("city"),
                description=client.get("client_description"),
                industry=client.get("industry"),
                employee_count=client.get("employee_count"),
            )
        )

    def client_set_photo(
        self, context: CommandContext, request: ClientSetPhotoRequest
    ) -> ClientSetPhotoResponse:
        self._set_photo("CLIENT", request)
        return ClientSetPhotoResponse()

    def client_set_profile(
        self, context: CommandContext, request: ClientSetProfileRequest
    ) -> ClientSetProfileResponse:
        user_id = _caller("CLIENT", request.user_id)
        changes: dict[str, Any] = {}
        if request.HasField("name"):
            changes["client_name"] = _text(request.name, "name", required=True)
        if request.HasField("city"):
            changes["city"] = _text(request.city, "city")
        if request.HasField("description"):
            changes["client_description"] = _text(request.description, "description")
        if request.HasField("industry"):
            changes["industry"] = _text(request.industry, "industry")
        if request.HasField("employee_count"):
            changes["employee_count"] = _count(request.employee_count)
        email = _email(request.email) if request.HasField("email") else None

        self._update("CLIENT", user_id, changes, email=email)
        # Orig always answered false (API.md B27); true on success is harmless.
        return ClientSetProfileResponse(success=True)

    def freelancer_get_photo(
        self, context: CommandContext, request: FreelancerGetPhotoRequest
    ) -> FreelancerGetPhotoResponse:
        freelancer = self._find("FREELANCER", request.user_id, "photo_link")
        return FreelancerGetPhotoResponse(
            **_present(photo_link=freelancer.get("photo_link"))
        )

    def freelancer_get_profile_brief(
        self, context: CommandContext, request: FreelancerGetProfileBriefRequest
    ) -> FreelancerGetProfileBriefResponse:
        freelancer = self._find("FREELANCER", request.user_id, "email", "fullName")
        return FreelancerGetProfileBriefResponse(
            **_present(
                email=freelancer.get("email"), full_name=freelancer.get("fullName")
            )
        )

    def freelancer_get_profile(
        self, context: CommandContext, request: FreelancerGetProfileRequest
    ) -> FreelancerGetProfileResponse:
        freelancer = self._find(
            "FREELANCER",
            request.user_id,
            "email",
            "fullName",
            "city",
            "job_title",
            "description",
            "birthdate",
            "languages",
            "skills",
        )
        response = FreelancerGetProfileResponse(
            **_present(
                email=freelancer.get("email"),
                full_name=freelancer.get("fullName"),
                city=freelancer.get("city"),
                job_title=freelancer.get("job_title"),
                description=freelancer.get("description"),
            ),
            languages=freelancer.get("languages") or [],
            skills=freelancer.get("skills") or [],
        )
        birthdate = freelancer.get("birthdate")
        if isinstance(birthdate, dt.datetime):
            # pymongo hands back naive UTC; FromDatetime reads naive as UTC.
            response.birth_date.FromDatetime(birthdate)
        return response

    def freelancer_get_resume(
        self, context: CommandContext, request: FreelancerGetResumeRequest
    ) -> FreelancerGetResumeResponse:
        freelancer = self._find("FREELANCER", request.user_id, "resume_link")
        return FreelancerGetResumeResponse(
            **_present(resume_link=freelancer.get("resume_link"))
        )

    def freelancer_set_photo(
        self, context: CommandContext, request: FreelancerSetPhotoRequest
    ) -> FreelancerSetPhotoResponse:
        self._set_photo("FREELANCER", request)
        return FreelancerSetPhotoResponse()

    def freelancer_set_profile(
        self, context: CommandContext, request: FreelancerSetProfileRequest
    ) -> FreelancerSetProfileResponse:
        user_id = _caller("FREELANCER", request.user_id)
        changes: dict[str, Any] = {}
        if request.HasField("full_name"):
            changes["fullName"] = _text(request.full_name, "fullName", required=True)
        if request.HasField("city"):
            changes["city"] = _text(request.city, "city")
        if request.HasField("job_title"):
            changes["job_title"] = _text(request.job_title, "jobTitle")
        if request.HasField("description"):
            changes["description"] = _text(request.description, "description")
        if request.HasField("birth_date"):
            text = _text(request.birth_date, "birthDate")
            changes["birthdate"] = parse_date(text, "birthDate")
        email = _email(request.email) if request.HasField("email") else None

        self._update("FREELANCER", user_id, changes, email=email)
        return FreelancerSetProfileResponse()

    def freelancer_set_resume(
        self, context: CommandContext, request: FreelancerSetResumeRequest
    ) -> FreelancerSetResumeResponse:
        user_id = _caller("FREELANCER", request.user_id)
        link = (
            _link(request.resume_link, "resumeLink")
            if request.HasField("resume_link")
            else None
        )
        self._update("FREELANCER", user_id, {"resume_link": link})
        return FreelancerSetResumeResponse()

    def add_freelancer_language(
        self, context: CommandContext, request: AddFreelancerLanguageRequest
    ) -> AddFreelancerLanguageResponse:
        language = _text(request.new_language, "newLanguage", required=True)
        self._add("languages", request.user_id, language, unique=False)
        return AddFreelancerLanguageResponse()

    def add_freelancer_skill(
        self, context: CommandContext, request: AddFreelancerSkillRequest
    ) -> AddFreelancerSkillResponse:
        skill = _text(request.new_skill, "newSkill", required=True)
        self._add("skills", request.user_id, skill, unique=True)
        return AddFreelancerSkillResponse()

    def get_freelancer_languages(
        self, context: CommandContext, request: GetFreelancerLanguagesRequest
    ) -> GetFreelancerLanguagesResponse:
        languages = self._list("languages", request.user_id)
        return GetFreelancerLanguagesResponse(languages=languages)

    def get_freelancer_skills(
        self, context: CommandContext, request: GetFreelancerSkillsRequest
    ) -> GetFreelancerSkillsResponse:
        return GetFreelancerSkillsResponse(skills=self._list("skills", request.user_id))

    def remove_freelancer_language(
        self, context: CommandContext, request: RemoveFreelancerLanguageRequest
    ) -> RemoveFreelancerLanguageResponse:
        language = _text(request.language_to_remove, "languageToRemove", required=True)
        self._remove("languages", request.user_id, language)
        return RemoveFreelancerLanguageResponse()

    def remove_freelancer_skill(
        self, context: CommandContext, request: RemoveFreelancerSkillRequest
    ) -> RemoveFreelancerSkillResponse:
        skill = _text(request.skill_to_remove, "skillToRemove", required=True)
        self._remove("skills", request.user_id, skill)
        return RemoveFreelancerSkillResponse()

    def _find(
        self, account_type: AccountType, raw_user_id: str, *fields: str
    ) -> dict[str, Any]:
        user_id = _caller(account_type, raw_user_id)
        found = self._store.find(account_type, user_id, fields)
        if found is None:
            raise NotFound(MISSING[account_type])
        return found

    def _set_photo(
        self,
        account_type: AccountType,
        request: ClientSetPhotoRequest | FreelancerSetPhotoRequest,
    ) -> None:
        """Stores the link, or clears it when the request sends none (as Orig)."""
        user_id = _caller(account_type, request.user_id)
        link = (
            _link(request.photo_link, "photoLink")
            if request.HasField("photo_link")
            else None
        )
        self._update(account_type, user_id, {"photo_link": link})

    def _update(
        self,
        account_type: AccountType,
        user_id: ObjectId,
        changes: Mapping[str, Any],
        *,
        email: str | None = None,
    ) -> None:
        try:
            found = self._store.update_profile(
                account_type, user_id, changes, email=email
            )
        except EmailTaken:
            # Orig answers 501 here; API.md B5 asks for a 400 (a listed deviation).
            raise BadRequest("Email already in use") from None
        if not found:
            raise NotFound(MISSING[account_type])

    def _list(self, field: ListField, raw_user_id: str) -> list[str]:
        user_id = _caller("FREELANCER", raw_user_id)
        items = self._store.list_items(user_id, field)
        if items is None:
            raise NotFound(MISSING["FREELANCER"])
        return items

    def _add(
        self, field: ListField, raw_user_id: str, value: str, *, unique: bool
    ) -> None:
        user_id = _caller("FREELANCER", raw_user_id)
        if not self._store.add_item(user_id, field, value, unique=unique):
            raise NotFound(MISSING["FREELANCER"])

    def _remove(self, field: ListField, raw_user_id: str, value: str) -> None:
        user_id = _caller("FREELANCER", raw_user_id)
        if not self._store.remove_first(user_id, field, value):
            raise NotFound(MISSING["FREELANCER"])


def profile_handlers(handlers: ProfileHandlers) -> dict[str, Handler]:
    """Command name -> handler, for the service's composition root to merge."""
    return {
        "ClientGetPhoto": handlers.client_get_photo,
        "ClientGetProfile": handlers.client_get_profile,
        "ClientSetPhoto": handlers.client_set_photo,
        "ClientSetProfile": handlers.client_set_profile,
        "FreelancerGetPhoto": handlers.freelancer_get_photo,
        "FreelancerGetProfileBrief": handlers.freelancer_get_profile_brief,
        "FreelancerGetProfile": handlers.freelancer_get_profile,
        "FreelancerGetResume": handlers.freelancer_get_resume,
        "FreelancerSetPhoto": handlers.freelancer_set_photo,
        "FreelancerSetProfile": handlers.freelancer_set_profile,
        "FreelancerSetResume": handlers.freelancer_set_resume,
        "AddFreelancerLanguage": handlers.add_freelancer_language,
        "AddFreelancerSkill": handlers.add_freelancer_skill,
        "GetFreelancerLanguages": handlers.get_freelancer_languages,
        "GetFreelancerSkills": handlers.get_freelancer_skills,
        "RemoveFreelancerLanguage": handlers.remove_freelancer_language,
        "RemoveFreelancerSkill": handlers.remove_freelancer_skill,
    }


def _caller(account_type: AccountType, raw_user_id: str) -> ObjectId:
    """The caller's id; a missing or malformed one finds no account either."""
    if not _OBJECT_ID.fullmatch(raw_user_id):
        raise NotFound(MISSING[account_type])
    return ObjectId(raw_user_id)


def _present(**values: Any) -> dict[str, Any]:
    """The values that are stored; an unset proto field renders as null."""
    return {name: value for name, value in values.items() if value is not None}


def _text(value: str, field: str, *, required: bool = False) -> str:
    if len(value) > MAX_TEXT_LENGTH:
        raise BadRequest(f"{field} must be at most {MAX_TEXT_LENGTH} characters")
    if required and not value.strip():
        raise BadRequest(f"{field} must not be blank")
    return value


def _email(value: str) -> str:
    return check_email(value)


def _count(value: int) -> int:
    if value < 0:
        raise BadRequest("employeeCount must not be negative")
    return value


def _link(value: str, field: str) -> str:
    """A media-server path ("/static/...") or an absolute http(s) URL."""
    if len(value) > MAX_LINK_LENGTH:
        raise BadRequest(f"{field} must be at most {MAX_LINK_LENGTH} characters")
    if not _is_link(value):
        raise BadRequest(f"{field} must be a path starting with / or an http(s) URL")
    return value


def _is_link(value: str) -> bool:
    if any(char.isspace() or not char.isprintable() for char in value):
        return False
    if value.startswith("/"):
        # Browsers read "//host" and "/\host" as another site, not a path.
        return value[1:2] not in ("/", "\\")
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
