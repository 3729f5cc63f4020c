"""History (filters, sorting, pages, empty states), compare and the dashboard."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from webapp.jobs.models import Job, ModelVersion

pytestmark = pytest.mark.django_db


def job_names(content: bytes) -> list[str]:
    return re.findall(r'<a href="/jobs/[0-9a-f-]+/">([^<]*)</a>', content.decode())


def test_new_user_sees_what_to_do_first(owner_client: Client) -> None:
    for tab, text in [
        ("runs", "No training runs yet"),
        ("models", "No model versions yet"),
        ("galleries", "No galleries yet"),
    ]:
        content = owner_client.get(f"/history/?tab={tab}").content.decode()
        assert text in content
    dashboard = owner_client.get("/dashboard/").content.decode()
    assert "Nothing has run yet" in dashboard
    assert 'href="/training/new/?preset=preview"' in dashboard


def test_runs_filter_by_state_dataset_kernel_and_date(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    make_job(
        owner, name="mnist gauss", params={"dataset": "mnist", "kernel": "gaussian"}
    )
    make_job(
        owner,
        name="digits tophat",
        state=Job.State.FAILED,
        params={"dataset": "digits", "kernel": "tophat"},
    )
    old = make_job(
        owner, name="old digits", params={"dataset": "digits", "kernel": "gaussian"}
    )
    Job.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )

    def names(query: str) -> set[str]:
        return set(job_names(owner_client.get(f"/history/?{query}").content))

    assert names("") == {"mnist gauss", "digits tophat", "old digits"}
    assert names("state=failed") == {"digits tophat"}
    assert names("dataset=digits") == {"digits tophat", "old digits"}
    assert names("kernel=tophat") == {"digits tophat"}
    since = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    assert names(f"since={since}") == {"mnist gauss", "digits tophat"}
    until = (timezone.now() - dt.timedelta(days=10)).date().isoformat()
    assert names(f"until={until}") == {"old digits"}
    content = owner_client.get("/history/?state=cancelled").content.decode()
    assert "Nothing matches these filters" in content


def test_generation_jobs_filter_through_their_model(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    model = make_model_version(owner)
    make_gallery(owner, model, n_images=2)
    assert job_names(
        owner_client.get("/history/?kind=generation&dataset=digits").content
    ) == ["2 images"]
    assert (
        job_names(owner_client.get("/history/?kind=generation&dataset=mnist").content)
        == []
    )


def test_runs_sort_and_paginate(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    now = timezone.now()
    for index in range(25):
        job = make_job(owner, name=f"run {index:02d}")
        Job.objects.filter(pk=job.pk).update(
            created_at=now - dt.timedelta(minutes=index)
        )
    first = job_names(owner_client.get("/history/").content)
    assert first == [f"run {index:02d}" for index in range(20)]
    second = owner_client.get("/history/?page=2").content
    assert job_names(second) == [f"run {index:02d}" for index in range(20, 25)]
    assert "21\u201325 of 25" in second.decode()
    oldest = job_names(owner_client.get("/history/?sort=oldest").content)
    assert oldest[0] == "run 24"
    by_name = job_names(owner_client.get("/history/?sort=name&page=2").content)
    assert by_name == [f"run {index:02d}" for index in range(20, 25)]


def test_page_links_keep_the_filters(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    for index in range(21):
        make_job(
            owner, name=f"r{index}", params={"dataset": "digits", "kernel": "cosine"}
        )
    content = owner_client.get("/history/?kernel=cosine").content.decode()
    assert 'href="?kernel=cosine&amp;page=2"' in content


def test_model_versions_filter_and_sort_by_likelihood(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    low = make_model_version(owner, name="low")
    high = make_model_version(owner, name="high")
    infinite = make_model_version(owner, name="infinite")
    for model, value in [(low, -50.0), (high, -2.0), (infinite, None)]:
        ModelVersion.objects.filter(pk=model.pk).update(
            metrics={**model.metrics, "test_log_likelihood": value}
        )
    content = owner_client.get("/history/?tab=models&sort=likelihood").content.decode()
    order = re.findall(r'<a href="/models/\d+/">(\w+) <span', content)
    assert order == ["high", "low", "infinite"]
    assert "\u2212\u221e" in content
    empty = owner_client.get("/history/?tab=models&dataset=mnist").content.decode()
    assert "Nothing matches these filters" in empty


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "tab=models&until=9999-12-31",
        "tab=galleries&until=9999-12-31",
        "dataset=%00",
        "kernel=a%00b",
        "tab=models&dataset=%00&kernel=%00",
        "tab=galleries&dataset=%00&kernel=%00",
    ],
)
def test_odd_history_filters_are_not_server_errors(
    owner: User, owner_client: Client, make_job: Any, query: str
) -> None:
    make_job(owner, name="kept", params={"dataset": "digits", "kernel": "gaussian"})
    response = owner_client.get(f"/history/?{query}")
    assert response.status_code == 200
    if "tab=" not in query:
        assert job_names(response.content) == ["kept"]


@pytest.mark.parametrize(
    "ids", ["%C2%B2", "-1", pytest.param("1" * 5000, id="5000-digits")]
)
def test_compare_ignores_ids_that_are_not_plain_digits(
    owner_client: Client, ids: str
) -> None:
    # "²" passes isdigit() but not int(); 5,000 digits are past int()'s limit.
    response = owner_client.get(f"/compare/?ids={ids}")
    assert response.status_code == 200
    assert "Pick 2 to 4" not in response.content.decode()


def test_compare_two_versions_highlights_differences(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    first = make_model_version(owner, name="first")
    second = make_model_version(owner, name="second", class_conditional=False)
    response = owner_client.get(f"/compare/?ids={first.pk}&ids={second.pk}")
    assert response.status_code == 200
    content = response.content.decode()
    rows = re.findall(
        r"<tr (class=\"is-different\")?>\s*<th scope=\"row\">([^<]*)", content
    )
    different = {label.strip() for mark, label in rows if mark}
    assert "Class-conditional" in different
    assert "Data set" not in different
    charts = re.findall(r'<svg class="chart"', content)
    assert len(charts) == 2
    assert content.count('src="data:image/png;base64,') == 32
    assert "first v1" in content
    assert "second v2" in content


@pytest.mark.parametrize("count", [1, 5])
def test_compare_needs_two_to_four(
    owner: User, owner_client: Client, make_model_version: Any, count: int
) -> None:
    ids = [make_model_version(owner).pk for _ in range(count)]
    query = "&".join(f"ids={pk}" for pk in ids)
    response = owner_client.get(f"/compare/?submitted=1&{query}")
    assert response.status_code == 400
    assert "Pick 2 to 4 model versions" in response.content.decode()


def test_compare_link_from_a_model_preselects_it(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    other = make_model_version(owner)
    response = owner_client.get(f"/compare/?ids={model.pk}")
    content = response.content.decode()
    assert response.status_code == 200
    assert re.search(rf'value="{model.pk}" id="pick-{model.pk}" checked', content)
    assert not re.search(rf'value="{other.pk}" id="pick-{other.pk}" checked', content)
    assert "Pick 2 to 4" not in content


def test_compare_accepts_a_comma_list_with_the_public_demo(
    owner: User, other_user: User, client_of: Any, make_model_version: Any
) -> None:
    mine = make_model_version(owner)
    demo = make_model_version(other_user, is_public=True)
    response = client_of(owner).get(f"/compare/?ids={mine.pk},{demo.pk}")
    assert response.status_code == 200


def test_dashboard_counts_and_default_model(
    owner: User, owner_client: Client, make_job: Any, make_model_version: Any
) -> None:
    make_job(owner)
    make_job(owner)
    make_job(owner, state=Job.State.RUNNING, progress=0.5, phase="pca")
    model = make_model_version(owner, name="favourite")
    content = owner_client.get("/dashboard/").content.decode()
    assert re.search(r'id="count-queued">2<', content)
    assert re.search(r'id="count-running">1<', content)
    assert f'href="/models/{model.pk}/"><strong>favourite v1</strong>' in content
    assert content.count("data-job-api=") == 3
    assert content.count('src="data:image/png;base64,') == 8
    assert 'data-generate-url="/generate"' in content
