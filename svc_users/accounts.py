"""Login and registration: the users commands that mint identities.

Each handler takes the command context and its request message and returns
its response message, or raises a `common.errors.WorkUpError`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from common.dates import parse_date
from common.errors import BadRequest, Unauthorized, WorkUpError
from common.runtime.context import CommandContext
from svc_users.login_limiter import RedisLoginLimiter
from svc_users.passwords import hash_password, verify_password
from svc_users.store import (
    AccountType,
    EmailTaken,
    MongoUserStore,
    check_email,
    derive_user_id,
)
from workup_pb.users_pb2 import (
    ClientRegisterRequest,
    FreelancerRegisterRequest,
    LoginRequest,
    LoginResponse,
    RegisterResponse,
    UserType,
)

logger = logging.getLogger(__name__)

#: Longest accepted password; longer input is a 400, never stored.
MAX_PASSWORD_LENGTH = 256
#: Longest free-text profile field accepted at registration.
MAX_TEXT_LENGTH = 2000

ADMIN_USER_ID = "admin"


class WalletOpener(Protocol):
    def __call__(self, freelancer_id: str, *, context: CommandContext) -> None:
        """Creates the freelancer's wallet in the payments service (API.md X1)."""


@dataclass(frozen=True)
class AdminCredentials:
    """The one administrator account, configured, never stored in the database."""

    email: str
    password: str

    def matches(self, email: str, password: str) -> bool:
        email_ok = hmac.compare_digest(email.strip().lower(), self.email.lower())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return email_ok and password_ok


class AccountHandlers:
    def __init__(
        self,
        store: MongoUserStore,
        limiter: RedisLoginLimiter,
        admin: AdminCredentials,
        open_wallet: WalletOpener,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._admin = admin
        self._open_wallet = open_wallet

    def login(self, context: CommandContext, request: LoginRequest) -> LoginResponse:
        _require(email=request.email, password=request.password)
        self._limiter.check(request.email)

        if self._admin.matches(request.email, request.password):
            return _login_success(ADMIN_USER_ID, self._admin.email, UserType.ADMIN)

        account = self._store.find_account(request.email)
        stored_hash = account.password_hash if account else None
        if account is None or not verify_password(stored_hash, request.password):
            raise Unauthorized("Invalid email or password")
        user_type = (
            UserType.CLIENT if account.account_type == "CLIENT" else UserType.FREELANCER
        )
        return _login_success(account.user_id, account.email, user_type)

    def client_register(
        self, context: CommandContext, request: ClientRegisterRequest
    ) -> RegisterResponse:
        _require(
            email=request.email,
            password=request.password,
            clientName=request.client_name,
        )
        _check_lengths(request.email, request.password)
        document = {
            "email": request.email,
            "password_hash": hash_password(request.password),
            "client_name": request.client_name,
            "industry": _optional_text(request, "industry"),
            "city": _optional_text(request, "city"),
            "client_description": _optional_text(request, "description"),
            "employee_count": (
                request.employee_count if request.HasField("employee_count") else None
            ),
            "photo_link": None,
        }
        user_id = self._register(context, "CLIENT", document)
        return _register_success(user_id, request.email, UserType.CLIENT)

    def freelancer_register(
        self, context: CommandContext, request: FreelancerRegisterRequest
    ) -> RegisterResponse:
        _require(
            email=request.email, password=request.password, fullName=request.full_name
        )
        _check_lengths(request.email, request.password)
        birth_date = (
            parse_date(request.birth_date, "birthDate")
            if request.HasField("birth_date")
            else None
        )
        document: dict[str, Any] = {
            "email": request.email,
            "password_hash": hash_password(request.password),
            "fullName": request.full_name,
            "job_title": _optional_text(request, "job_title"),
            "city": _optional_text(request, "city"),
            "birthdate": birth_date,
            "description": None,
            "photo_link": None,
            "resume_link": None,
            # Every list starts empty (API.md B2), so CV commands never meet null.
            "skills": [],
            "languages": [],
            "achievements": [],
            "educations": [],
            "experiences": [],
        }
        user_id = self._register(context, "FREELANCER", document)
        self._open_wallet_or_log(user_id, context)
        return _register_success(user_id, request.email, UserType.FREELANCER)

    def _register(
        self,
        context: CommandContext,
        account_type: AccountType,
        document: Mapping[str, Any],
    ) -> str:
        user_id = derive_user_id(context.idempotency_key or context.request_id)
        try:
            self._store.register(account_type, user_id, document)
        except EmailTaken as taken:
            holder = "client" if taken.holder_type == "CLIENT" else "freelancer"
            raise BadRequest(f"User already registered as {holder}") from None
        return str(user_id)

    def _open_wallet_or_log(self, freelancer_id: str, context: CommandContext) -> None:
        # The account exists either way; a missing wallet must be loud, since
        # payments to this freelancer fail until it is created.
        try:
            self._open_wallet(freelancer_id, context=context)
        except WorkUpError as error:
            logger.error(
                "Could not create the wallet of a new freelancer.",
                extra={
                    "freelancer_id": freelancer_id,
                    "error_code": error.code,
                    "error": error.message,
                },
            )


def _require(**fields: str) -> None:
    missing = [name for name, value in fields.items() if not value.strip()]
    if missing:
        raise BadRequest(f"Missing required field(s): {', '.join(missing)}")


def _check_lengths(email: str, password: str) -> None:
    check_email(email)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest("password must be at most 256 characters")


def _optional_text(request: Any, field: str) -> str | None:
    if not request.HasField(field):
        return None
    value: str = getattr(request, field)
    if len(value) > MAX_TEXT_LENGTH:
        raise BadRequest(f"{field} must be at most {MAX_TEXT_LENGTH} characters")
    return value


def _login_success(
    user_id: str, email: str, user_type: UserType.Value.ValueType
) -> LoginResponse:
    return LoginResponse(
        success=True, user_id=user_id, user_name=email, user_type=user_type
    )


def _register_success(
    user_id: str, email: str, user_type: UserType.Value.ValueType
) -> RegisterResponse:
    return RegisterResponse(
        success=True,
        user_id=user_id,
        user_name=email.strip().lower(),
        user_type=user_type,
    )
