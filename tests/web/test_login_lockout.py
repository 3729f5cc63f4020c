"""Password guessing: django-axes locks a username or a client after repeated
failures, on the log-in page, the admin and the API token endpoint alike."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed log-ins for this account or from your address"


def log_in(address: str, username: str, password: str, **headers: str) -> Any:
    return Client(REMOTE_ADDR=address, **headers).post(
        "/login/", {"username": username, "password": password}
    )


def fail_until_locked(address_of: Any, username_of: Any, **headers: str) -> list[int]:
    return [
        log_in(
            address_of(attempt), username_of(attempt), "wrong", **headers
        ).status_code
        for attempt in range(settings.AXES_FAILURE_LIMIT)
    ]


def test_bad_passwords_lock_the_username_from_any_address(
    owner: User, other_user: User
) -> None:
    codes = fail_until_locked(lambda n: f"192.0.2.{n}", lambda n: "owner")
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    response = log_in("198.51.100.1", "owner", PASSWORD)  # the right password
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert LOCKED in html.unescape(response.content.decode())
    assert "_auth_user_id" not in response.client.session

    # Another user, elsewhere, is not affected.
    assert log_in("198.51.100.2", "other", PASSWORD)["Location"] == "/dashboard/"


def test_a_forged_forwarded_for_does_not_reset_the_client_lock(
    other_user: User,
) -> None:
    codes = fail_until_locked(
        lambda n: "203.0.113.9",
        lambda n: f"guess{n}",
        HTTP_X_FORWARDED_FOR="10.9.8.7",
    )
    assert codes[-1] == 429
    # The same client with a fresh forged address is still locked...
    response = log_in("203.0.113.9", "other", PASSWORD, HTTP_X_FORWARDED_FOR="10.1.1.1")
    assert response.status_code == 429
    # ...while another client logs in to the same account.
    assert log_in("203.0.113.10", "other", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(owner: User) -> None:
    from axes.models import AccessAttempt

    fail_until_locked(lambda n: "192.0.2.1", lambda n: "owner")
    assert log_in("192.0.2.2", "owner", PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert log_in("192.0.2.2", "owner", PASSWORD).status_code == 302


def test_the_admin_log_in_is_locked_too(db: None) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    client = Client(REMOTE_ADDR="192.0.2.50")
    codes = [
        client.post(
            "/admin/login/", {"username": "root", "password": "wrong"}
        ).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes[-1] == 429
    response = Client(REMOTE_ADDR="192.0.2.51").post(
        "/admin/login/", {"username": "root", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert LOCKED in html.unescape(response.content.decode())


def test_the_api_token_endpoint_is_locked_per_username(
    owner: User, other_user: User
) -> None:
    def token(address: str, username: str, password: str) -> Any:
        return APIClient(REMOTE_ADDR=address).post(
            "/api/v1/auth/token",
            {"username": username, "password": password},
            format="json",
        )

    codes = [
        token(f"192.0.2.{n}", "owner", "wrong").status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    response = token("198.51.100.7", "owner", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert response.json()["detail"].startswith(LOCKED)
    assert token("198.51.100.8", "other", PASSWORD).status_code == 200
