"""Media files: uploads of icons, resumes and attachments, and serving them.

This replaces the reference system's separate media server (API.md section
10) inside the edge, with its routes and JSON shapes, and these changes:

- an upload needs a valid bearer token (any role) instead of one shared
  Basic password, and the stored name starts with the uploader's id, so no
  one can overwrite another user's file;
- filenames are cleaned and anything that could leave the group's folder
  (`/`, `\\`, `..`) is refused;
- the content itself decides the type: a PNG, JPEG, GIF, BMP or TIFF becomes
  the group's square PNG icon, and a PDF must start with `%PDF-`;
- a missing resume or attachment is a 404, not a 500.

Files live under the directory named by WORKUP_MEDIA_DIR, in
`static/<group>/`, with the icon placeholder in `defaults/`.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

from common.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    WorkUpError,
)
from edge.auth import Authenticator

#: Side of the square icons, in pixels (API.md: 16 x 16).
ICON_SIZE_PX = 16
#: Images with more pixels than this are refused before decoding (zip bombs).
MAX_IMAGE_PIXELS = 40_000_000
PLACEHOLDER_ICON = "raw-icon.png"
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class MediaGroup:
    mime_class: str
    extension: str
    media_type: str
    placeholder: str | None


GROUPS = {
    "icons": MediaGroup("image", "png", "image/png", PLACEHOLDER_ICON),
    "resume": MediaGroup("application", "pdf", "application/pdf", None),
    "attachments": MediaGroup("application", "pdf", "application/pdf", None),
}


class MediaStore:
    """The media directory: where each file goes and what is there."""

    def __init__(self, root: Path, *, max_upload_bytes: int) -> None:
        self.root = root
        self.max_upload_bytes = max_upload_bytes

    def ensure_layout(self) -> None:
        for group in GROUPS:
            (self.root / "static" / group).mkdir(parents=True, exist_ok=True)
        defaults = self.root / "defaults"
        defaults.mkdir(parents=True, exist_ok=True)
        placeholder = defaults / PLACEHOLDER_ICON
        if not placeholder.exists():
            blank = Image.new(
                "RGBA", (ICON_SIZE_PX, ICON_SIZE_PX), (200, 200, 200, 255)
            )
            blank.save(placeholder, format="PNG")

    def static_file(self, group: str, filename: str) -> Path:
        """The file to serve for GET /static/<group>/<filename>.

        Raises:
            NotFound: unknown group, a name that leaves the folder, or no file
                and no placeholder.
        """
        spec = GROUPS.get(group.lower())
        name = filename.lower()
        if spec is None or not _SAFE_NAME.match(name) or ".." in name:
            raise NotFound("No such file")
        path = self.root / "static" / group.lower() / name
        if path.is_file():
            return path
        if spec.placeholder is not None:
            return self.root / "defaults" / spec.placeholder
        raise NotFound("No such file")

    def files(self, group: str) -> list[str]:
        return sorted(entry.name for entry in (self.root / "static" / group).iterdir())

    def save(self, group: str, filename: str, content: bytes) -> None:
        """Writes atomically: readers see the old file or the new one, whole."""
        folder = self.root / "static" / group
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "wb") as part:
            part.write(content)
        os.replace(temporary, folder / filename)


def clean_filename(raw: str) -> str:
    """API.md's escaping (trim, lower case, spaces to `_`, extension dropped),
    refusing anything that could name a path outside the group's folder.

    Raises:
        BadRequest: the name is empty, too long, or has unsafe characters.
    """
    name = raw.strip().lower().replace(" ", "_")
    if "/" in name or "\\" in name or ".." in name:
        raise BadRequest("filename must not contain '/', '\\' or '..'")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if not _SAFE_NAME.match(stem):
        raise BadRequest(
            "filename must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return stem


def process_upload(spec: MediaGroup, content: bytes) -> bytes:
    """The bytes to store: a square PNG icon, or the PDF as it came.

    Raises:
        BadRequest: the content is not of the group's kind, or is unreadable.
    """
    if spec.mime_class == "image":
        return _square_png(content)
    if not content.startswith(b"%PDF-"):
        raise BadRequest("cannot upload this file to a PDF group: it is not a PDF")
    return content


def _square_png(content: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format not in {"PNG", "JPEG", "GIF", "BMP", "TIFF"}:
                raise BadRequest(f"unsupported image type: {image.format}")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise BadRequest("image is too large")
            icon = ImageOps.fit(image.convert("RGBA"), (ICON_SIZE_PX, ICON_SIZE_PX))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise BadRequest(
            "cannot upload this file to an image group: not an image"
        ) from error
    output = io.BytesIO()
    icon.save(output, format="PNG")
    return output.getvalue()


def media_routes(store: MediaStore, auth: Authenticator) -> list[BaseRoute]:
    """The media routes, to mount before the edge's command routes."""

    async def serve_static(request: Request) -> Response:
        try:
            path = store.static_file(
                request.path_params["group"], request.path_params["filename"]
            )
        except WorkUpError as error:
            return _failure(error)
        spec = GROUPS[request.path_params["group"].lower()]
        return FileResponse(path, media_type=spec.media_type)

    async def describe(request: Request) -> Response:
        return JSONResponse(
            {"success": True, "path": "/static/", "groups": list(GROUPS)}
        )

    async def describe_group(request: Request) -> Response:
        group = request.path_params["group"].lower()
        spec = GROUPS.get(group)
        if spec is None:
            body = {
                "success": False,
                "path": None,
                "fileExtension": None,
                "files": None,
            }
            return JSONResponse(body)
        return JSONResponse(
            {
                "success": True,
                "path": f"/static/{group}/",
                "mimeType": spec.media_type,
                "files": store.files(group),
            }
        )

    async def upload(request: Request) -> Response:
        try:
            return await _upload(request, store, auth)
        except WorkUpError as error:
            return _failure(error)

    return [
        Route("/static/{group}/{filename}", serve_static, methods=["GET"]),
        Route("/describe", describe, methods=["GET"]),
        Route("/describe/{group}", describe_group, methods=["GET"]),
        Route("/upload/{group}", upload, methods=["POST"]),
    ]


async def _upload(request: Request, store: MediaStore, auth: Authenticator) -> Response:
    identity = auth.identify(request.headers.get("authorization"))
    if identity is None:
        raise Unauthorized("Unauthorized")
    group = request.path_params["group"].lower()
    spec = GROUPS.get(group)
    if spec is None:
        raise BadRequest(f"invalid resource group: {group}")

    declared = int(request.headers.get("content-length") or 0)
    if declared > store.max_upload_bytes:
        raise PayloadTooLarge(f"uploads are limited to {store.max_upload_bytes} bytes")
    limited = Request(request.scope, _limited(request.receive, store.max_upload_bytes))
    async with limited.form(max_files=1, max_fields=4) as form:
        resource, filename = form.get("resource"), form.get("filename")
        if not isinstance(resource, UploadFile):
            raise BadRequest("must include 'resource' in POST body")
        if not isinstance(filename, str) or not filename.strip():
            raise BadRequest("must include 'filename' in POST body")
        content = await resource.read()

    stored_name = f"{identity.user_id}-{clean_filename(filename)}.{spec.extension}"
    processed = await run_in_threadpool(process_upload, spec, content)
    await run_in_threadpool(store.save, group, stored_name, processed)
    return JSONResponse({"success": True, "path": f"/static/{group}/{stored_name}"})


def _limited(receive: Receive, max_bytes: int) -> Receive:
    """Counts body bytes as they arrive, so a wrong Content-Length cannot pass."""
    seen = 0

    async def receive_within_limit() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > max_bytes:
            raise PayloadTooLarge(f"uploads are limited to {max_bytes} bytes")
        return message

    return receive_within_limit


def _failure(error: WorkUpError) -> JSONResponse:
    return JSONResponse({"success": False, "message": error.message}, error.status)
