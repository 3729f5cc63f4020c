"""webapp.middleware.CSPMiddleware: django-csp's headers, the settings' policy
built once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from csp import middleware as django_csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE, SELF
from csp.decorators import csp, csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.utils import build_policy
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory
from pytest_django import Settings as SettingsWrapper

from webapp import middleware
from webapp.middleware import CSPMiddleware

View = Callable[[HttpRequest], HttpResponseBase]


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def with_nonce(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")  # type: ignore[attr-defined]


IMAGES = {"img-src": ["https://images.example"]}

VIEWS: dict[str, View] = {
    "plain": plain,
    "csp_update": csp_update(IMAGES)(plain),
    "csp_replace": csp_replace(IMAGES)(plain),
    "csp": csp({"default-src": ["'none'"]})(plain),
    "csp_update report-only": csp_update(IMAGES, REPORT_ONLY=True)(plain),
    "csp_exempt": csp_exempt()(plain),
}


def headers(
    middleware_class: type[django_csp_middleware.CSPMiddleware], view: View
) -> tuple[HttpRequest, dict[str, str]]:
    request = RequestFactory().get("/somewhere")
    response = middleware_class(view)(request)
    names = (HEADER, HEADER_REPORT_ONLY)
    return request, {name: response[name] for name in names if name in response}


@pytest.fixture
def report_only(settings: SettingsWrapper) -> None:
    """A report-only policy beside the enforced one, so that both headers show."""
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-reports"}
    }


@pytest.mark.usefixtures("report_only")
@pytest.mark.parametrize("view", VIEWS.values(), ids=VIEWS.keys())
def test_headers_are_django_csps_own(view: View) -> None:
    _, ours = headers(CSPMiddleware, view)
    _, theirs = headers(django_csp_middleware.CSPMiddleware, view)
    assert ours == theirs


def test_the_settings_policy_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def counted(**kwargs: Any) -> str:
        calls.append(kwargs)
        return build_policy(**kwargs)

    monkeypatch.setattr(middleware, "build_policy", counted)
    monkeypatch.setattr(django_csp_middleware, "build_policy", counted)
    middleware.settings_policy_headers.cache_clear()
    for _ in range(3):
        _, ours = headers(CSPMiddleware, plain)
        assert ours == {HEADER: build_policy()}
    assert len(calls) == 2  # the enforced policy and the (empty) report-only one


def test_views_decorated_with_csp_update_or_replace_get_their_own_policy() -> None:
    updated = headers(CSPMiddleware, VIEWS["csp_update"])[1][HEADER]
    assert "img-src 'self' data: https://images.example" in updated
    assert updated == build_policy(update=IMAGES)
    replaced = headers(CSPMiddleware, VIEWS["csp_replace"])[1][HEADER]
    assert "img-src https://images.example" in replaced
    assert replaced == build_policy(replace=IMAGES)


def test_a_nonce_used_by_the_view_is_in_the_header(settings: SettingsWrapper) -> None:
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    request, ours = headers(CSPMiddleware, with_nonce)
    assert f"'nonce-{request._csp_nonce}'" in ours[HEADER]  # type: ignore[attr-defined]
    assert ours[HEADER] == build_policy(nonce=request._csp_nonce)  # type: ignore[attr-defined]


def test_a_nonce_asked_for_after_the_header_is_an_error() -> None:
    request, _ = headers(CSPMiddleware, plain)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # type: ignore[attr-defined]


def test_a_changed_setting_changes_the_header(settings: SettingsWrapper) -> None:
    headers(CSPMiddleware, plain)
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert headers(CSPMiddleware, plain)[1] == {HEADER: "default-src 'none'"}


def test_excluded_prefixes_are_left_to_django_csp(settings: SettingsWrapper) -> None:
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/some"],
    }
    assert headers(CSPMiddleware, plain)[1] == {}
