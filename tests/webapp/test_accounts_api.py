from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
GOOD_PASSWORD = "plenty-of-entropy-here-91"


def test_register_creates_a_user_and_returns_a_working_token(
    anonymous_client: APIClient,
) -> None:
    response = anonymous_client.post(
        REGISTER, {"username": "ada", "password": GOOD_PASSWORD}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert set(response.json()) == {"token"}
    user = User.objects.get(username="ada")
    assert user.check_password(GOOD_PASSWORD)
    assert Token.objects.get(user=user).key == token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/jobs/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ada"}, "password"),
        ({"password": GOOD_PASSWORD}, "username"),
        ({"username": "ada", "password": "short"}, "password"),
        ({"username": "ada", "password": "12345678901"}, "password"),
        ({"username": "ada", "password": "password123"}, "password"),
        ({"username": "bad name!", "password": GOOD_PASSWORD}, "username"),
        ({"username": "demo", "password": GOOD_PASSWORD}, "username"),
        ({"username": "x" * 151, "password": GOOD_PASSWORD}, "username"),
    ],
)
def test_register_rejects_bad_input(
    anonymous_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = anonymous_client.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()


def test_register_rejects_a_taken_username_in_any_case(
    anonymous_client: APIClient, owner: User
) -> None:
    response = anonymous_client.post(
        REGISTER, {"username": "OWNER", "password": GOOD_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert "username" in response.json()
    assert User.objects.count() == 1


def test_token_exchange(anonymous_client: APIClient, owner: User) -> None:
    owner.set_password(GOOD_PASSWORD)
    owner.save()
    response = anonymous_client.post(
        TOKEN, {"username": "owner", "password": GOOD_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=owner).key}
    again = anonymous_client.post(
        TOKEN, {"username": "owner", "password": GOOD_PASSWORD}, format="json"
    )
    assert again.json() == response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "owner", "password": "wrong-password"},
        {"username": "nobody", "password": GOOD_PASSWORD},
        {"username": "owner"},
        {},
    ],
)
def test_token_refuses_bad_credentials(
    anonymous_client: APIClient, owner: User, body: dict[str, str]
) -> None:
    response = anonymous_client.post(TOKEN, body, format="json")
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_demo_user_cannot_log_in(anonymous_client: APIClient, dispatched: Any) -> None:
    from webapp.jobs import maintenance

    maintenance.seed_demo_model(preset="preview")
    response = anonymous_client.post(
        TOKEN, {"username": "demo", "password": ""}, format="json"
    )
    assert response.status_code == 400


def test_auth_endpoints_are_throttled(
    anonymous_client: APIClient, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "3/minute", "generate": "100/minute"},
    }
    body = {"username": "nobody", "password": "wrong-password"}
    codes = [
        anonymous_client.post(TOKEN, body, format="json").status_code for _ in range(3)
    ]
    codes.append(
        anonymous_client.post(
            REGISTER, {"username": "eve", "password": GOOD_PASSWORD}, format="json"
        ).status_code
    )
    assert codes == [400, 400, 400, 429]
    assert not User.objects.filter(username="eve").exists()


def test_invalid_token_is_a_401(anonymous_client: APIClient) -> None:
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert anonymous_client.get("/api/v1/jobs/").status_code == 401


def test_rotating_the_token_revokes_the_old_one(owner: User) -> None:
    from webapp.accounts import services

    old = services.api_token(owner)
    assert services.api_token(owner) == old
    new = services.rotate_api_token(owner)
    assert new.key != old.key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    assert client.get("/api/v1/jobs/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert client.get("/api/v1/jobs/").status_code == 200


def test_deleting_the_token_revokes_it(owner: User) -> None:
    from webapp.accounts import services

    token = services.api_token(owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.delete(TOKEN).status_code == 204
    assert not Token.objects.filter(user=owner).exists()
    assert client.get("/api/v1/jobs/").status_code == 401
    assert client.delete(TOKEN).status_code == 401
    # The password still gets a new one.
    response = APIClient().post(
        TOKEN, {"username": "owner", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["token"] != token.key


def test_deleting_a_token_needs_authentication(
    anonymous_client: APIClient, owner: User
) -> None:
    from webapp.accounts import services

    services.api_token(owner)
    assert anonymous_client.delete(TOKEN).status_code == 401
    assert Token.objects.filter(user=owner).exists()


def test_a_new_password_replaces_the_token_whatever_changed_it(owner: User) -> None:
    from webapp.accounts import services

    old = services.api_token(owner)
    owner.set_password("another-long-password-77")  # the admin's way
    owner.save()
    new = Token.objects.get(user=owner)
    assert new.key != old.key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    assert client.get("/api/v1/jobs/").status_code == 401


def test_other_saves_of_the_user_keep_the_token(owner: User) -> None:
    from django.contrib.auth.models import update_last_login

    from webapp.accounts import services

    token = services.api_token(owner)
    owner.first_name = "Ada"
    owner.save()
    update_last_login(None, owner)
    assert Token.objects.get(user=owner).key == token.key


def test_a_new_password_makes_no_token_for_a_user_without_one(owner: User) -> None:
    owner.set_password("another-long-password-77")
    owner.save()
    assert not Token.objects.filter(user=owner).exists()
