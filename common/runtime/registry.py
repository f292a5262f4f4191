"""The command table of one service: name -> the handler that serves it now.

Handlers change at run time through the admin API. A command can be
disabled (delete), enabled again (add), swapped for a handler loaded from a
module (update) and swapped back (rollback). Each entry is an immutable
`Command` and a change replaces the whole entry, so a message that has
looked its command up runs that version to the end while the next message
gets the new one. Lookups take no lock; changes are serialised by one.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from google.protobuf.message import Message

from common.errors import BadRequest, CommandNotImplemented, NotFound
from common.runtime.context import CommandContext, Handler
from common.runtime.loader import HandlerModule, load_handler_module, module_name_for

#: Version shown for handlers registered in code at start-up.
INITIAL_VERSION = "1"

RequestT = TypeVar("RequestT", bound=Message)


@dataclass(frozen=True)
class Command:
    """One registry entry: which handler serves a command, and whether at all."""

    name: str
    handler: Handler
    request_type: type[Message]
    version: str = INITIAL_VERSION
    enabled: bool = True
    #: HTTP status of a successful reply (the proto route's success_status).
    success_status: int = 200


class CommandRegistry:
    """Name -> `Command`, with the earlier versions kept for rollback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: dict[str, Command] = {}
        self._history: dict[str, list[Command]] = {}
        self._loads = itertools.count(1)

    def register(
        self,
        name: str,
        handler: Callable[[CommandContext, RequestT], Message],
        request_type: type[RequestT],
        *,
        success_status: int = 200,
        version: str = INITIAL_VERSION,
    ) -> Command:
        """Adds a command served by a handler written in code.

        Raises:
            ValueError: when the name is taken.
        """
        command = Command(name, handler, request_type, version, True, success_status)
        with self._lock:
            if name in self._commands:
                raise ValueError(f"Command {name} is registered already.")
            self._commands[name] = command
        return command

    def lookup(self, name: str) -> Command:
        """The command to run for a message.

        Raises:
            CommandNotImplemented: when the command is unknown or disabled.
        """
        command = self._commands.get(name)
        if command is None or not command.enabled:
            raise CommandNotImplemented()
        return command

    def get(self, name: str) -> Command:
        """The entry as it stands, enabled or not.

        Raises:
            NotFound: when no command has this name.
        """
        command = self._commands.get(name)
        if command is None:
            raise NotFound(f"No command named {name}.")
        return command

    def commands(self) -> list[Command]:
        """Every entry, sorted by name."""
        return sorted(self._commands.values(), key=lambda command: command.name)

    def previous_version(self, name: str) -> str | None:
        """The version a rollback would restore, if any."""
        history = self._history.get(name)
        return history[-1].version if history else None

    def delete(self, name: str) -> Command:
        """Disables a command; callers get 501 until it is added again.

        Raises:
            NotFound: when no command has this name.
        """
        with self._lock:
            return self._put(replace(self.get(name), enabled=False))

    def add(
        self, name: str, source: str | None = None, version: str | None = None
    ) -> Command:
        """Enables a command, with a handler loaded from `source` if given.

        Without a source the entry keeps its handler. A command the service
        does not know yet needs a source whose module declares REQUEST_TYPE.

        Raises:
            NotFound: when the command is unknown and no source is given.
            BadRequest: when the source cannot be loaded.
        """
        with self._lock:
            if not source:
                return self._put(replace(self.get(name), enabled=True))
            current = self._commands.get(name)
            loaded = self._load(name, source)
            command = _command_from(name, loaded, current, version)
            return self._swap(replace(command, enabled=True), current)

    def update(self, name: str, source: str) -> tuple[Command, Command]:
        """Swaps in a handler loaded from `source`; returns (new, replaced).

        Raises:
            NotFound: when no command has this name.
            BadRequest: when the source cannot be loaded.
        """
        with self._lock:
            current = self.get(name)
            loaded = self._load(name, source)
            command = _command_from(name, loaded, current, None)
            return self._swap(command, current), current

    def rollback(self, name: str) -> Command:
        """Puts back the version the last update or add replaced.

        Raises:
            NotFound: when the command is unknown or has no earlier version.
        """
        with self._lock:
            current = self.get(name)
            history = self._history.get(name)
            if not history:
                raise NotFound(f"Command {name} has no earlier version.")
            return self._put(replace(history.pop(), enabled=current.enabled))

    def _load(self, name: str, source: str) -> HandlerModule:
        return load_handler_module(source, module_name_for(name, next(self._loads)))

    def _swap(self, command: Command, current: Command | None) -> Command:
        if current is not None:
            self._history.setdefault(command.name, []).append(current)
        return self._put(command)

    def _put(self, command: Command) -> Command:
        self._commands[command.name] = command
        return command


def _command_from(
    name: str,
    loaded: HandlerModule,
    current: Command | None,
    version: str | None,
) -> Command:
    """The entry a loaded module makes, inheriting what it does not declare."""
    request_type = loaded.request_type
    status = loaded.success_status
    if current is not None:
        request_type = request_type or current.request_type
        status = status or current.success_status
    if request_type is None:
        raise BadRequest(
            f"Command {name} is new here, so its module must declare REQUEST_TYPE."
        )
    return Command(
        name=name,
        handler=loaded.handle,
        request_type=request_type,
        # Without a declared version, the unique module name identifies it.
        version=version or loaded.version or loaded.module_name,
        enabled=current.enabled if current else True,
        success_status=status or 200,
    )
