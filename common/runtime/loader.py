"""Loads a handler module from source, fresh each time, under a versioned name.

A hot update must never touch the module that is serving now: the new code
is executed as a brand-new module (`<prefix>_<command>_<n>`) next to the old
one, and the registry swaps one function reference for another between two
messages. `importlib.reload` would instead re-execute the live module in
place, so a message in flight could see half-old, half-new globals.

A handler module defines `handle(context, request) -> response`. It may also
define `VERSION` (a string shown by the admin API), and, for a command the
service did not register at start-up, `REQUEST_TYPE` (its request message
class) and `SUCCESS_STATUS` (default 200).

Loading runs arbitrary code with the service's rights: only the admin API,
behind its token, may ask for it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from google.protobuf.message import Message

from common.errors import BadRequest

#: Prefix of every module name the loader gives out.
MODULE_PREFIX = "workup_handler"


@dataclass(frozen=True)
class HandlerModule:
    """What a loaded module offers: its handler and what it declares."""

    module_name: str
    handle: Any
    version: str | None
    request_type: type[Message] | None
    success_status: int | None


class _UncachedSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source on disk every time, ignoring __pycache__.

    Bytecode caches are validated by mtime in whole seconds and by size, so
    a file rewritten in place within one second could be served stale.
    """

    def get_code(self, fullname: str) -> Any:
        return self.source_to_code(self.get_data(self.path), self.path)


def module_name_for(command: str, sequence: int) -> str:
    """A module name no earlier load has used, e.g. workup_handler_login_3."""
    slug = re.sub(r"\W", "_", command).lower()
    return f"{MODULE_PREFIX}_{slug}_{sequence}"


def resolve_source(source: str) -> Path:
    """The file behind a path (`/x/y.py`) or a dotted module name (`a.b`).

    Raises:
        BadRequest: when nothing loadable is there.
    """
    if source.endswith(".py") or "/" in source:
        path = Path(source)
    else:
        path = _origin_of(source)
    if not path.is_file():
        raise BadRequest(f"No handler module at {source}.")
    return path


def _origin_of(dotted: str) -> Path:
    try:
        spec = importlib.util.find_spec(dotted)
    except (ImportError, ValueError) as error:
        raise BadRequest(f"Cannot find module {dotted}: {error}") from error
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise BadRequest(f"Module {dotted} has no Python source file.")
    return Path(spec.origin)


def load_handler_module(source: str, module_name: str) -> HandlerModule:
    """Executes the module at `source` as a new module named `module_name`.

    Raises:
        BadRequest: when the source is missing, fails to execute, or has no
            callable `handle`.
    """
    path = resolve_source(source)
    loader = _UncachedSourceLoader(module_name, str(path))
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    if spec is None:
        raise BadRequest(f"Cannot load {source} as a module.")
    module = importlib.util.module_from_spec(spec)
    # Registered so tracebacks, pickling and dataclasses inside it work.
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
        return _inspect(module, source)
    except BadRequest:
        del sys.modules[module_name]
        raise
    except Exception as error:
        del sys.modules[module_name]
        raise BadRequest(f"Module {source} failed to load: {error!r}") from error


def _inspect(module: ModuleType, source: str) -> HandlerModule:
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise BadRequest(f"Module {source} defines no handle function.")
    version = getattr(module, "VERSION", None)
    request_type = getattr(module, "REQUEST_TYPE", None)
    status = getattr(module, "SUCCESS_STATUS", None)
    return HandlerModule(
        module_name=module.__name__,
        handle=handle,
        version=str(version) if version is not None else None,
        request_type=_message_class(request_type, source),
        success_status=int(status) if status is not None else None,
    )


def _message_class(candidate: object, source: str) -> type[Message] | None:
    if candidate is None:
        return None
    if isinstance(candidate, type) and issubclass(candidate, Message):
        return candidate
    raise BadRequest(f"REQUEST_TYPE in {source} is not a protobuf message class.")
