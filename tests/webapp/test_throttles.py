"""Every write is rate-limited (webapp/throttles.py, webapp/middleware.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.webapp.job_rows import training_job
from webapp.client_ip import client_ip

pytestmark = pytest.mark.django_db

# Every write the site has, as (method, path, logged in). {job} and {model} are
# the owner's; the answers themselves do not matter, only that a second one is 429.
WRITES = [
    ("post", "/api/v1/training-runs", True),
    ("post", "/api/v1/generations", True),
    ("post", "/api/v1/jobs/{job}/cancel", True),
    ("post", "/api/v1/model-versions/{model}/set-default", True),
    ("post", "/api/v1/auth/register", False),
    ("post", "/api/v1/auth/token", False),
    ("delete", "/api/v1/auth/token", True),
    ("post", "/generate", False),
    ("post", "/signup/", False),
    ("post", "/login/", False),
    ("post", "/logout/", False),
    ("post", "/training/new/", True),
    ("post", "/jobs/{job}/cancel/", True),
    ("post", "/models/{model}/generate/", True),
    ("post", "/models/{model}/set-default/", True),
    ("post", "/account/password/", True),
    ("post", "/account/token/", True),
    ("post", "/account/token/revoke/", True),
    ("post", "/admin/login/", False),
    ("post", "/admin/auth/user/add/", True),
]


@pytest.fixture
def one_per_minute(settings: SettingsWrapper) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "auth": "1/minute",
            "generate": "1/minute",
            "write": "1/minute",
        },
    }


@pytest.mark.parametrize(
    ("method", "path", "logged_in"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
def test_every_write_is_throttled(
    one_per_minute: None,
    owner: User,
    make_model_version: Any,
    dispatched: Any,
    method: str,
    path: str,
    logged_in: bool,
) -> None:
    url = path.format(job=training_job(owner).pk, model=make_model_version(owner).pk)
    client = Client()
    if logged_in:
        client.force_login(owner)
    cache.clear()
    getattr(client, method)(url, {}, content_type="application/json")
    response = getattr(client, method)(url, {}, content_type="application/json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def _views(patterns: list[URLPattern | URLResolver]) -> list[Any]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern.url_patterns)
        else:
            found.append(pattern.callback)
    return found


def test_every_rest_view_has_a_throttle_and_pages_go_through_the_middleware() -> None:
    rest_views = [
        view.cls
        for view in _views(get_resolver().url_patterns)
        if isinstance(getattr(view, "cls", None), type)
        and issubclass(view.cls, APIView)
    ]
    assert len(rest_views) > 10
    for view_class in rest_views:
        assert view_class.throttle_classes, view_class
    assert "webapp.middleware.WriteThrottleMiddleware" in settings.MIDDLEWARE


def test_reads_are_not_throttled(
    one_per_minute: None, api_client: APIClient, owner: User
) -> None:
    job = training_job(owner)
    for _ in range(5):
        assert api_client.get(f"/api/v1/jobs/{job.pk}").status_code == 200
    for _ in range(5):
        assert Client().get("/login/").status_code == 200


def test_each_user_has_their_own_write_budget(
    one_per_minute: None, owner: User, other_user: User
) -> None:
    clients = {}
    for user in (owner, other_user):
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    assert clients[owner.pk].post("/account/token/").status_code == 302
    assert clients[other_user.pk].post("/account/token/").status_code == 302
    assert clients[owner.pk].post("/account/token/").status_code == 429


def test_a_forged_forwarded_for_does_not_escape_the_sign_up_throttle(
    one_per_minute: None,
) -> None:
    client = APIClient()
    codes = [
        client.post(
            "/api/v1/auth/register",
            {"username": f"user{index}", "password": "plenty-of-entropy-here-91"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}",
        ).status_code
        for index in range(3)
    ]
    assert codes == [201, 429, 429]


def test_the_web_sign_up_is_throttled_per_client(settings: SettingsWrapper) -> None:
    # The sign-up limit, not the general write one, is the one that answers.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "1/minute", "write": "100/minute"},
    }

    def sign_up(index: int, address: str) -> int:
        password = "plenty-of-entropy-here-91"
        return (
            Client(REMOTE_ADDR=address)
            .post(
                "/signup/",
                {
                    "username": f"user{index}",
                    "password": password,
                    "password_confirm": password,
                },
            )
            .status_code
        )

    assert sign_up(1, "192.0.2.1") == 302
    assert sign_up(2, "192.0.2.1") == 429
    assert sign_up(3, "192.0.2.2") == 302
    assert not User.objects.filter(username="user2").exists()


class _Request:
    def __init__(self, remote_addr: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote_addr}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "10.0.0.9"),
        (0, "203.0.113.7", "10.0.0.9"),  # no proxy of ours: the header is a lie
        (1, None, "10.0.0.9"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # the client wrote 1.2.3.4
        (2, "1.2.3.4, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
        (3, "203.0.113.7", "203.0.113.7"),
    ],
)
def test_client_ip_trusts_only_our_own_proxies(
    settings: SettingsWrapper, proxies: int, forwarded: str | None, expected: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_Request("10.0.0.9", forwarded)) == expected  # type: ignore[arg-type]


@pytest.fixture
def unreachable_cache(settings: SettingsWrapper) -> None:
    """The cache on a port where no Redis answers."""
    settings.CACHES = {
        "default": {
            "BACKEND": "webapp.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }


def test_with_the_cache_unreachable_logging_in_still_works(
    unreachable_cache: None, one_per_minute: None, owner: User
) -> None:
    from tests.conftest import PASSWORD

    api = APIClient()
    for _ in range(2):  # past the rate, too: nothing counts without the cache
        response = api.post(
            "/api/v1/auth/token", {"username": "owner", "password": PASSWORD}
        )
        assert response.status_code == 200, response.content
    assert response.json()["token"]

    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/account/token/").status_code == 200
