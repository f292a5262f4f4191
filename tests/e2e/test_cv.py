"""CV items over HTTP: each kind added, listed with ids, updated and removed,
only by their own freelancer."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.users_api import (
    bearer,
    register_client_token,
    register_freelancer_token,
)

pytestmark = pytest.mark.integration

# path, an item to add, the id field of update/remove, an update, the query
# parameter of remove, the list field.
KINDS = [
    (
        "achievements",
        {
            "achievement_name": "Prize",
            "awarded_by": "Guild",
            "award_date": "2024-05-01",
        },
        "achievement_id",
        {"new_achievement_name": "Big prize"},
        "achievementId",
        "achievements",
    ),
    (
        "education",
        {"school_name": "Uni", "degree": "BSc", "education_start_date": "2010-09-01"},
        "education_id",
        {"new_degree": "MSc"},
        "educationId",
        "educations",
    ),
    (
        "experience",
        {"company_name": "Co", "job_title": "Dev", "employment_start": 1262304000000},
        "experience_id",
        {"new_job_title": "Lead"},
        "experienceId",
        "experiences",
    ),
]


@pytest.mark.parametrize(
    ("path", "item", "id_field", "change", "remove_param", "list_field"), KINDS
)
def test_a_cv_item_is_added_listed_updated_and_removed(
    http: httpx.Client, path, item, id_field, change, remove_param, list_field
) -> None:
    headers = bearer(register_freelancer_token(http))
    url = f"/api/v1/users/freelancer/{path}"

    added = http.post(url, json=item, headers=headers)
    listed = http.get(url, headers=headers).json()[list_field]
    item_id = listed[0]["id"]
    updated = http.put(url, json={id_field: item_id, **change}, headers=headers)
    after_update = http.get(url, headers=headers).json()[list_field][0]
    removed = http.delete(url, params={remove_param: item_id}, headers=headers)
    after_remove = http.get(url, headers=headers).json()[list_field]

    assert added.status_code == 201, added.text
    assert len(listed) == 1
    assert updated.status_code == 200, updated.text
    changed_field, changed_value = next(iter(change.items()))
    assert after_update[changed_field.removeprefix("new_")] == changed_value
    untouched = next(key for key in item if key not in changed_field)
    assert after_update[untouched] is not None
    assert removed.status_code == 200
    assert after_remove == []


def test_another_freelancers_item_is_never_changed_or_removed(
    http: httpx.Client,
) -> None:
    owner = bearer(register_freelancer_token(http))
    intruder = bearer(register_freelancer_token(http))
    url = "/api/v1/users/freelancer/achievements"
    http.post(url, json={"achievement_name": "Mine"}, headers=owner)
    item_id = http.get(url, headers=owner).json()["achievements"][0]["id"]

    intruder_list = http.get(url, headers=intruder).json()["achievements"]
    update = http.put(
        url,
        json={"achievement_id": item_id, "new_achievement_name": "Stolen"},
        headers=intruder,
    )
    delete = http.delete(url, params={"achievementId": item_id}, headers=intruder)
    owner_list = http.get(url, headers=owner).json()["achievements"]

    assert intruder_list == []
    assert update.status_code == delete.status_code == 200
    assert [entry["achievement_name"] for entry in owner_list] == ["Mine"]


def test_cv_routes_need_a_freelancer_token(http: httpx.Client) -> None:
    url = "/api/v1/users/freelancer/education"

    anonymous = http.get(url)
    as_client = http.get(url, headers=bearer(register_client_token(http)))

    assert anonymous.status_code == 401
    assert as_client.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"achievement_name": "x" * 2001},
        {"award_date": "yesterday"},
        {"achievement_name": 42},
    ],
    ids=["oversized", "bad-date", "wrong-type"],
)
def test_bad_cv_input_is_a_400(http: httpx.Client, body) -> None:
    headers = bearer(register_freelancer_token(http))
    url = "/api/v1/users/freelancer/achievements"

    response = http.post(url, json=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["errorMessage"]
    assert http.get(url, headers=headers).json()["achievements"] == []


def test_a_malformed_item_id_changes_nothing(http: httpx.Client) -> None:
    headers = bearer(register_freelancer_token(http))
    url = "/api/v1/users/freelancer/experience"
    http.post(url, json={"company_name": "Co"}, headers=headers)

    response = http.delete(url, params={"experienceId": "not-an-id"}, headers=headers)

    assert response.status_code == 200
    assert len(http.get(url, headers=headers).json()["experiences"]) == 1
