"""Profiles, photos, resumes, skills and languages over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.users_api import (
    PASSWORD,
    bearer,
    new_email,
    register_client_token,
    register_freelancer_token,
)

pytestmark = pytest.mark.integration


def test_a_client_profile_update_applies_only_the_fields_sent(
    http: httpx.Client,
) -> None:
    headers = bearer(register_client_token(http))

    before = http.get("/api/v1/users/client/profile", headers=headers).json()
    updated = http.post(
        "/api/v1/users/client/profile", json={"city": "Cairo"}, headers=headers
    )
    after = http.get("/api/v1/users/client/profile", headers=headers).json()

    assert updated.status_code == 200, updated.text
    assert updated.json()["success"] is True
    assert after["city"] == "Cairo"
    assert after["name"] == before["name"] == "Acme"


def test_a_freelancer_profile_round_trips_with_its_birth_date(
    http: httpx.Client,
) -> None:
    headers = bearer(register_freelancer_token(http))
    change = {"jobTitle": "Engineer", "birthDate": "1991-02-03", "description": "Hi"}

    response = http.post(
        "/api/v1/users/freelancer/profile", json=change, headers=headers
    )
    profile = http.get("/api/v1/users/freelancer/profile", headers=headers).json()

    assert response.status_code == 200, response.text
    assert profile["jobTitle"] == "Engineer"
    assert profile["birthDate"].startswith("1991-02-03T00:00:00.000")
    assert profile["skills"] == profile["languages"] == []


def test_an_email_change_that_collides_is_a_400_and_login_keeps_working(
    http: httpx.Client,
) -> None:
    taken = new_email()
    http.post(
        "/api/v1/users/clients/register",
        json={"email": taken, "password": PASSWORD, "clientName": "Other"},
    )
    headers = bearer(register_freelancer_token(http))

    response = http.post(
        "/api/v1/users/freelancer/profile", json={"email": taken}, headers=headers
    )
    other_login = http.post(
        "/api/v1/users/login", json={"email": taken, "password": PASSWORD}
    )

    assert response.status_code == 400
    assert other_login.status_code == 200


def test_photo_resume_skills_and_languages_read_back_what_was_written(
    http: httpx.Client,
) -> None:
    headers = bearer(register_freelancer_token(http))
    base = "/api/v1/users/freelancer"

    http.post(
        f"{base}/photo", json={"photoLink": "/static/icons/me.png"}, headers=headers
    )
    http.post(
        f"{base}/resume", json={"resumeLink": "/static/resume/me.pdf"}, headers=headers
    )
    for skill in ("go", "python", "go"):
        http.post(f"{base}/skills", json={"newSkill": skill}, headers=headers)
    http.post(f"{base}/languages", json={"newLanguage": "Arabic"}, headers=headers)
    http.delete(f"{base}/skills", params={"skillToRemove": "go"}, headers=headers)

    assert http.get(f"{base}/photo", headers=headers).json()["photoLink"] == (
        "/static/icons/me.png"
    )
    assert http.get(f"{base}/resume", headers=headers).json()["resumeLink"] == (
        "/static/resume/me.pdf"
    )
    assert http.get(f"{base}/skills", headers=headers).json()["skills"] == ["python"]
    assert http.get(f"{base}/languages", headers=headers).json()["languages"] == [
        "Arabic"
    ]


def test_profile_routes_check_the_role_and_the_token(http: httpx.Client) -> None:
    client_headers = bearer(register_client_token(http))

    assert http.get("/api/v1/users/client/photo").status_code == 401
    assert (
        http.get("/api/v1/users/freelancer/profile", headers=client_headers).status_code
        == 403
    )


def test_an_oversized_profile_field_is_a_400(http: httpx.Client) -> None:
    headers = bearer(register_client_token(http))

    response = http.post(
        "/api/v1/users/client/profile",
        json={"description": "x" * 5000},
        headers=headers,
    )

    assert response.status_code == 400
    assert "description" in response.json()["errorMessage"]
