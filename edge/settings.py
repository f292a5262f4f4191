"""The edge's settings, read once from the environment by `main()`.

| variable | default | meaning |
| --- | --- | --- |
| `WORKUP_EDGE_HOST` | 127.0.0.1 | address uvicorn binds |
| `WORKUP_EDGE_PORT` | 8080 | port uvicorn binds |
| `WORKUP_JWT_SECRET` | (required) | base64 of the HS256 key, at least 32 bytes |
| `WORKUP_DEV_MODE` | 0 | 1 allows a random JWT key when the secret is unset |
| `WORKUP_MAX_BODY_BYTES` | 1048576 | largest request body accepted |
| `WORKUP_RPC_TIMEOUT_S` | 10 | seconds a command may take before a 504 |
| `WORKUP_MEDIA_DIR` | `$WORKUP_STATE_DIR/media`, else `./media` | uploaded files |
| `WORKUP_MAX_UPLOAD_BYTES` | 10485760 | largest media upload accepted |

The broker comes from `common.config.Settings` (`WORKUP_AMQP_URL` and friends).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from common.config import Settings
from edge.auth import load_signing_key

#: Largest request body, in bytes, unless WORKUP_MAX_BODY_BYTES says otherwise.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds to wait for a command's reply, unless WORKUP_RPC_TIMEOUT_S says otherwise.
DEFAULT_RPC_TIMEOUT_S = 10.0
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the edge needs to run; build it with `EdgeSettings.from_env()`."""

    jwt_key: bytes = field(repr=False)
    amqp_url: str = field(default=Settings.amqp_url, repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rpc_timeout_s: float = DEFAULT_RPC_TIMEOUT_S
    media_dir: Path = Path("media")
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    @classmethod
    def from_env(cls) -> EdgeSettings:
        """Reads the variables in this module's docstring.

        Raises:
            ValueError: a variable is missing or malformed; the message names it.
        """
        dev_mode = os.environ.get("WORKUP_DEV_MODE", "0") == "1"
        return cls(
            jwt_key=load_signing_key(
                os.environ.get("WORKUP_JWT_SECRET"), dev_mode=dev_mode
            ),
            amqp_url=Settings.from_env().amqp_url,
            host=os.environ.get("WORKUP_EDGE_HOST", "127.0.0.1"),
            port=_positive_int("WORKUP_EDGE_PORT", 8080),
            max_body_bytes=_positive_int(
                "WORKUP_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES
            ),
            media_dir=_media_dir(),
            max_upload_bytes=_positive_int(
                "WORKUP_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES
            ),
            rpc_timeout_s=_positive_float(
                "WORKUP_RPC_TIMEOUT_S", DEFAULT_RPC_TIMEOUT_S
            ),
        )


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be above zero, got {value}")
    return value


def _positive_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number above zero, got {raw!r}")
    return value


def _media_dir() -> Path:
    explicit = os.environ.get("WORKUP_MEDIA_DIR")
    if explicit:
        return Path(explicit)
    state = os.environ.get("WORKUP_STATE_DIR")
    return Path(state) / "media" if state else Path("media")
