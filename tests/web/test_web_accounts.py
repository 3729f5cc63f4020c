"""Landing page, sign up, log in and out, password and API token pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-password-77"


def test_landing_without_a_demo_model_says_so(client: Client) -> None:
    response = client.get("/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "No demo model yet" in content
    assert 'href="/signup/"' in content
    assert 'href="/login/"' in content
    assert "data:image/png" not in content


def test_landing_while_the_demo_trains(client: Client, make_job: Any) -> None:
    demo = User.objects.create_user(username="demo")
    make_job(demo, publish_model=True, state="running", phase="search", progress=0.5)
    content = client.get("/").content.decode()
    assert "The demo model is still training" in content
    assert "search, 50% done" in content


def test_landing_shows_fresh_demo_samples(
    client: Client, other_user: User, make_model_version: Any
) -> None:
    make_model_version(other_user, is_public=True)
    content = client.get("/").content.decode()
    assert content.count('src="data:image/png;base64,') == 8
    assert 'data-generate-url="/generate"' in content
    assert client.get("/?n=3").content.decode().count("data:image/png;base64,") == 3
    assert client.get("/?n=99").content.decode().count("data:image/png;base64,") == 16


def test_logged_in_visitors_go_to_their_dashboard(owner_client: Client) -> None:
    response = owner_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_sign_up_creates_the_user_and_token_and_logs_in(client: Client) -> None:
    response = client.post(
        "/signup/",
        {"username": "newbie", "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/training/new/?preset=preview"
    user = User.objects.get(username="newbie")
    assert user.check_password(PASSWORD)
    assert Token.objects.filter(user=user).exists()
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"password": "short", "password_confirm": "short"}, "password"),
        ({"password": "123456789012", "password_confirm": "123456789012"}, "password"),
        ({"password_confirm": "something-else-entirely"}, "password_confirm"),
        ({"username": "bad name!"}, "username"),
        ({"username": "demo"}, "username"),
        ({"username": ""}, "username"),
    ],
)
def test_sign_up_with_bad_values_shows_errors_and_creates_nothing(
    client: Client, values: dict[str, str], field: str
) -> None:
    data = {"username": "newbie", "password": PASSWORD, "password_confirm": PASSWORD}
    data.update(values)
    response = client.post("/signup/", data)
    assert response.status_code == 400
    assert f'id="id_{field}_errors"' in response.content.decode()
    assert not User.objects.exists()


def test_username_taken_in_another_case(client: Client, owner: User) -> None:
    response = client.post(
        "/signup/",
        {"username": "OWNER", "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_log_in_and_out(client: Client, owner: User) -> None:
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response["Location"] == "/dashboard/"
    response = client.post(
        "/login/?next=/history/",
        {"username": "owner", "password": PASSWORD, "next": "/history/"},
    )
    assert response["Location"] == "/history/"
    response = client.post("/logout/")
    assert response["Location"] == "/"
    assert client.get("/dashboard/").status_code == 302


def test_wrong_password_is_refused(client: Client, owner: User) -> None:
    response = client.post("/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_change_password_keeps_the_session(owner: User, owner_client: Client) -> None:
    response = owner_client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/dashboard/"
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert owner_client.get("/dashboard/").status_code == 200


def test_change_password_with_a_wrong_old_one(
    owner: User, owner_client: Client
) -> None:
    response = owner_client.post(
        "/account/password/",
        {
            "old_password": "wrong",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert 'id="id_old_password_errors"' in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_token_page_shows_and_regenerates_the_token(
    owner: User, owner_client: Client
) -> None:
    key = Token.objects.create(user=owner).key
    content = owner_client.get("/account/token/").content.decode()
    # A text area, so that the token wraps on a phone instead of being cut off.
    field = r'<textarea id="api-token"[^>]*>{}</textarea>'
    assert re.search(field.format(key), content)
    response = owner_client.post("/account/token/")
    assert response["Location"] == "/account/token/"
    new_key = Token.objects.get(user=owner).key
    assert new_key != key
    content = owner_client.get("/account/token/").content.decode()
    assert re.search(field.format(new_key), content)


def test_every_input_has_a_label(client: Client) -> None:
    for url in ["/signup/", "/login/"]:
        content = client.get(url).content.decode()
        for input_id in re.findall(
            r'<input[^>]*type="(?:text|password)"[^>]*id="([^"]+)"', content
        ):
            assert f'for="{input_id}"' in content, (url, input_id)


def test_token_page_revokes_and_creates_the_token(
    owner: User, owner_client: Client
) -> None:
    key = Token.objects.create(user=owner).key
    response = owner_client.post("/account/token/revoke/")
    assert response["Location"] == "/account/token/"
    assert not Token.objects.filter(user=owner).exists()
    content = owner_client.get("/account/token/").content.decode()
    assert key not in content
    assert "You have no API token" in content
    assert not Token.objects.filter(user=owner).exists()  # showing creates none
    owner_client.post("/account/token/")
    new_key = Token.objects.get(user=owner).key
    content = owner_client.get("/account/token/").content.decode()
    assert re.search(rf'<textarea id="api-token"[^>]*>{new_key}</textarea>', content)


def test_changing_the_password_replaces_the_token(
    owner: User, owner_client: Client
) -> None:
    key = Token.objects.create(user=owner).key
    response = owner_client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    new_key = Token.objects.get(user=owner).key
    assert new_key != key
    assert "your API token replaced" in response.content.decode()
