"""The gRPC admin port of one service instance: health, status and run-time control.

It serves the stock `grpc.health.v1` HealthServicer (SERVING or NOT_SERVING
under both "" and the service's name) and `workup_pb.Admin`. The Admin
service only translates: the work is done by an `AdminControl`, which the
ServiceRuntime implements. Authentication and the audit record are in
common/runtime/admin_security.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from common.errors import BadRequest, WorkUpError
from common.runtime.admin_security import TokenInterceptor, audit
from common.runtime.registry import Command, CommandRegistry
from workup_pb import admin_pb2 as pb, admin_pb2_grpc

logger = logging.getLogger(__name__)

#: Threads serving admin calls; Freeze holds one while work drains.
ADMIN_WORKERS = 4
#: Seconds in-progress admin calls get to finish when the port closes.
STOP_GRACE_S = 2.0
#: Log levels SetLogLevel accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

ResponseT = TypeVar("ResponseT", bound=Message)

#: gRPC status for each WorkUp error status an admin action may raise.
_GRPC_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    501: grpc.StatusCode.NOT_FOUND,
    503: grpc.StatusCode.UNAVAILABLE,
}


class AdminControl(Protocol):
    """What the admin port drives; ServiceRuntime implements it."""

    @property
    def registry(self) -> CommandRegistry: ...

    def status(self) -> pb.GetStatusResponse: ...

    def set_max_threads(self, count: int) -> int: ...

    def set_max_db_connections(self, count: int) -> int | None:
        """The maximum now in force, or None when there is no pool."""

    def freeze(self) -> None: ...

    def start(self) -> None: ...


class _Refused(Exception):
    """Raised inside an admin action to answer with a given gRPC status."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AdminServicer(admin_pb2_grpc.AdminServicer):
    """Maps each Admin RPC onto an AdminControl, auditing every call."""

    def __init__(self, control: AdminControl) -> None:
        self._control = control

    def GetStatus(
        self, request: pb.GetStatusRequest, context: Any
    ) -> pb.GetStatusResponse:
        return self._audited("GetStatus", request, context, self._control.status)

    def SetMaxThreads(
        self, request: pb.SetMaxThreadsRequest, context: Any
    ) -> pb.SetMaxThreadsResponse:
        def act() -> pb.SetMaxThreadsResponse:
            count = self._control.set_max_threads(request.count)
            return pb.SetMaxThreadsResponse(max_threads=count)

        return self._audited("SetMaxThreads", request, context, act)

    def SetMaxDbConnections(
        self, request: pb.SetMaxDbConnectionsRequest, context: Any
    ) -> pb.SetMaxDbConnectionsResponse:
        def act() -> pb.SetMaxDbConnectionsResponse:
            if request.count < 1:
                raise BadRequest("count must be at least 1.")
            count = self._control.set_max_db_connections(request.count)
            if count is None:
                raise _Refused(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "This service keeps no database pool.",
                )
            return pb.SetMaxDbConnectionsResponse(max_db_connections=count)

        return self._audited("SetMaxDbConnections", request, context, act)

    def Freeze(self, request: pb.FreezeRequest, context: Any) -> pb.FreezeResponse:
        def act() -> pb.FreezeResponse:
            self._control.freeze()
            return pb.FreezeResponse(state=pb.InstanceState.FROZEN)

        return self._audited("Freeze", request, context, act)

    def Start(self, request: pb.StartRequest, context: Any) -> pb.StartResponse:
        def act() -> pb.StartResponse:
            self._control.start()
            return pb.StartResponse(state=pb.InstanceState.RUNNING)

        return self._audited("Start", request, context, act)

    def DeleteCommand(
        self, request: pb.DeleteCommandRequest, context: Any
    ) -> pb.DeleteCommandResponse:
        def act() -> pb.DeleteCommandResponse:
            command = self._control.registry.delete(request.name)
            return pb.DeleteCommandResponse(command=command_info(command))

        return self._audited("DeleteCommand", request, context, act)

    def AddCommand(
        self, request: pb.AddCommandRequest, context: Any
    ) -> pb.AddCommandResponse:
        def act() -> pb.AddCommandResponse:
            version = request.version if request.HasField("version") else None
            registry = self._control.registry
            command = registry.add(request.name, request.module or None, version)
            return pb.AddCommandResponse(command=command_info(command))

        return self._audited("AddCommand", request, context, act)

    def UpdateCommand(
        self, request: pb.UpdateCommandRequest, context: Any
    ) -> pb.UpdateCommandResponse:
        def act() -> pb.UpdateCommandResponse:
            if not request.module:
                raise BadRequest("module is required.")
            new, old = self._control.registry.update(request.name, request.module)
            return pb.UpdateCommandResponse(
                command=command_info(new), previous_version=old.version
            )

        return self._audited("UpdateCommand", request, context, act)

    def RollbackCommand(
        self, request: pb.RollbackCommandRequest, context: Any
    ) -> pb.RollbackCommandResponse:
        def act() -> pb.RollbackCommandResponse:
            command = self._control.registry.rollback(request.name)
            return pb.RollbackCommandResponse(command=command_info(command))

        return self._audited("RollbackCommand", request, context, act)

    def SetLogLevel(
        self, request: pb.SetLogLevelRequest, context: Any
    ) -> pb.SetLogLevelResponse:
        return self._audited(
            "SetLogLevel", request, context, lambda: set_log_level(request)
        )

    def _audited(
        self,
        action: str,
        request: Message,
        context: Any,
        act: Callable[[], ResponseT],
    ) -> ResponseT:
        arguments = MessageToDict(request, preserving_proto_field_name=True)
        peer = context.peer()
        try:
            response = act()
        except _Refused as refusal:
            audit(action, arguments, peer, refusal.code.name)
            _abort(context, refusal.code, refusal.message)
        except WorkUpError as error:
            code = _GRPC_CODES.get(error.status, grpc.StatusCode.INTERNAL)
            audit(action, arguments, peer, code.name)
            _abort(context, code, error.message or error.code)
        except Exception:
            logger.exception("An admin action failed.", extra={"action": action})
            audit(action, arguments, peer, grpc.StatusCode.INTERNAL.name)
            _abort(context, grpc.StatusCode.INTERNAL, "The admin action failed.")
        audit(action, arguments, peer, "OK")
        return response


def command_info(command: Command) -> pb.CommandInfo:
    return pb.CommandInfo(
        name=command.name, enabled=command.enabled, version=command.version
    )


def set_log_level(request: pb.SetLogLevelRequest) -> pb.SetLogLevelResponse:
    """Sets a logger's level; no logger name means the root logger.

    Raises:
        BadRequest: when the level is not one of LOG_LEVELS.
    """
    level = request.level.upper()
    if level not in LOG_LEVELS:
        raise BadRequest(f"Unknown log level {request.level!r}.")
    name = request.logger if request.HasField("logger") else ""
    logging.getLogger(name or None).setLevel(level)
    return pb.SetLogLevelResponse(level=level, logger=name or "root")


def _abort(context: Any, code: Any, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("context.abort returned")  # grpc's abort always raises


class AdminServer:
    """The admin port: health plus Admin, behind the token interceptor."""

    def __init__(
        self, control: AdminControl, *, service: str, token: str, host: str, port: int
    ) -> None:
        self._service = service
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._health = health.HealthServicer()
        self._server = grpc.server(
            ThreadPoolExecutor(ADMIN_WORKERS, thread_name_prefix="workup-admin"),
            interceptors=(TokenInterceptor(token),),
        )
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(control), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self.set_serving(False)
        self.port = 0

    def start(self) -> int:
        """Binds and starts serving; returns the bound port.

        Raises:
            OSError: when the address cannot be bound.
        """
        self.port = self._server.add_insecure_port(self._address)
        if not self.port:
            raise OSError(f"Cannot bind the admin port on {self._address}")
        self._server.start()
        logger.info("Admin port open.", extra={"admin_port": self.port})
        return self.port

    def set_serving(self, serving: bool) -> None:
        """What health checks answer, under "" and under the service name."""
        status = health_pb2.HealthCheckResponse.NOT_SERVING
        if serving:
            status = health_pb2.HealthCheckResponse.SERVING
        for name in ("", self._service):
            self._health.set(name, status)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        self._health.enter_graceful_shutdown()
        self._server.stop(grace_s).wait()
