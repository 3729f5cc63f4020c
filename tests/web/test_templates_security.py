"""The Content-Security-Policy forbids inline code: no template may need it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((REPO / "webapp").rglob("templates/**/*.html"))

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.IGNORECASE)
SCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def inline_code(text: str) -> list[str]:
    return [
        match.group(0)
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, INLINE_STYLE, SCRIPT_URL)
        for match in pattern.finditer(text)
    ]


def test_the_scanner_finds_each_kind_of_inline_code() -> None:
    page = (
        '<script>alert(1)</script><script src="/a.js"></script>'
        '<button type="button" onclick="go()">'
        '<style>p {}</style><p style="color: red">'
        '<a href="javascript:void(0)">'
    )
    assert len(inline_code(page)) == 5
    assert inline_code('<script src="/static/web/job.js" defer></script>') == []


@pytest.mark.parametrize(
    "template", TEMPLATES, ids=[str(t.relative_to(REPO)) for t in TEMPLATES]
)
def test_no_template_has_inline_scripts_handlers_or_styles(template: Path) -> None:
    assert inline_code(template.read_text()) == []


def test_templates_were_found() -> None:
    assert len(TEMPLATES) > 15


@pytest.mark.django_db
def test_pages_carry_the_policy_and_the_api_docs_have_no_inline_code(
    client: Client,
) -> None:
    for url in ("/", "/login/", "/api/docs/"):
        response = client.get(url)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert inline_code(response.content.decode()) == []


@pytest.mark.django_db
def test_the_policy_allows_data_urls_for_images_alone(client: Client) -> None:
    # The galleries, the samples and the favicon are data: URLs; no other kind
    # of resource may be one (a data: script would run).
    policy = client.get("/login/")["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:])
        for part in policy.split(";")
        if part.strip()
    )
    assert directives["img-src"] == ["'self'", "data:"]
    assert [name for name, sources in directives.items() if "data:" in sources] == [
        "img-src"
    ]
