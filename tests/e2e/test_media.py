"""Media uploads and static files through the running edge."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.e2e.users_api import bearer, register_freelancer_token

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def png(width: int = 64, height: int = 48) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(output, format="PNG")
    return output.getvalue()


def upload(
    http: httpx.Client,
    group: str,
    content: bytes,
    filename: str = "My Photo",
    token: str | None = None,
    mime: str = "image/png",
) -> httpx.Response:
    headers = bearer(token) if token else {}
    return http.post(
        f"/upload/{group}",
        files={"resource": ("upload.bin", content, mime)},
        data={"filename": filename},
        headers=headers,
    )


def test_an_uploaded_image_becomes_a_square_png_icon(http: httpx.Client) -> None:
    token = register_freelancer_token(http)

    response = upload(http, "icons", png(), token=token)
    served = http.get(response.json()["path"])

    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert response.json()["path"].endswith("-my_photo.png")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (16, 16)


def test_a_pdf_resume_is_stored_as_it_is(http: httpx.Client) -> None:
    token = register_freelancer_token(http)

    response = upload(http, "resume", PDF, "cv", token, "application/pdf")
    served = http.get(response.json()["path"])

    assert response.status_code == 200, response.text
    assert served.content == PDF
    assert served.headers["content-type"] == "application/pdf"


def test_two_users_with_one_filename_never_overwrite_each_other(
    http: httpx.Client,
) -> None:
    first = upload(http, "resume", PDF, "cv", register_freelancer_token(http))
    second = upload(
        http, "resume", PDF + b"%second", "cv", register_freelancer_token(http)
    )

    assert first.json()["path"] != second.json()["path"]
    assert http.get(first.json()["path"]).content == PDF


@pytest.mark.parametrize(
    ("group", "content", "filename", "status", "message"),
    [
        ("icons", PDF, "x", 400, "not an image"),
        ("resume", png(), "x", 400, "not a PDF"),
        ("icons", png(), "../../etc/passwd", 400, "must not contain"),
        ("videos", png(), "x", 400, "invalid resource group"),
        ("icons", png(), "", 400, "filename"),
    ],
    ids=["pdf-as-icon", "png-as-resume", "traversal", "unknown-group", "no-name"],
)
def test_bad_uploads_get_a_400_saying_why(
    http: httpx.Client, group, content, filename, status, message
) -> None:
    token = register_freelancer_token(http)

    response = upload(http, group, content, filename, token)

    assert response.status_code == status
    assert response.json()["success"] is False
    assert message in response.json()["message"]


def test_an_upload_needs_a_valid_token(http: httpx.Client) -> None:
    anonymous = upload(http, "icons", png())
    forged = upload(http, "icons", png(), token="not.a.token")

    assert anonymous.status_code == 401
    assert forged.status_code == 401


def test_an_oversized_upload_is_refused_with_413(http: httpx.Client) -> None:
    token = register_freelancer_token(http)

    response = upload(http, "resume", PDF + b"0" * (11 * 1024 * 1024), "big", token)

    assert response.status_code == 413


def test_missing_files_fall_back_to_the_placeholder_or_404(
    http: httpx.Client,
) -> None:
    icon = http.get("/static/icons/nobody-has-this.png")
    resume = http.get("/static/resume/nobody-has-this.pdf")

    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/png"
    assert resume.status_code == 404


def test_describe_lists_the_groups_and_their_files(http: httpx.Client) -> None:
    token = register_freelancer_token(http)
    path = upload(http, "attachments", PDF, "spec", token, "application/pdf").json()[
        "path"
    ]

    groups = http.get("/describe").json()
    attachments = http.get("/describe/attachments").json()
    unknown = http.get("/describe/videos").json()

    assert groups["groups"] == ["icons", "resume", "attachments"]
    assert path.rsplit("/", 1)[1] in attachments["files"]
    assert unknown == {
        "success": False,
        "path": None,
        "fileExtension": None,
        "files": None,
    }
