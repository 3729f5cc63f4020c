"""The history page's FilterSets: values that do not validate fall back or are
ignored, never a 4xx or 5xx for a page link."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def job_names(client: Client, query: str) -> list[str]:
    response = client.get(f"/history/?{query}")
    assert response.status_code == 200
    return re.findall(
        r'<a href="/jobs/[0-9a-f-]+/">([^<]*)</a>', response.content.decode()
    )


@pytest.fixture
def jobs(owner: User, make_job: Any) -> None:
    now = timezone.now()
    for age, name, kind in [
        (1, "newer run", Job.Kind.TRAINING),
        (2, "older run", Job.Kind.TRAINING),
        (3, "a generation", Job.Kind.GENERATION),
    ]:
        job = make_job(owner, name=name, kind=kind)
        Job.objects.filter(pk=job.pk).update(created_at=now - dt.timedelta(days=age))


@pytest.mark.usefixtures("jobs")
@pytest.mark.parametrize("query", ["", "kind=magic", "kind=", "sort=bogus"])
def test_unknown_kind_or_sort_means_training_runs_newest_first(
    owner_client: Client, query: str
) -> None:
    assert job_names(owner_client, query) == ["newer run", "older run"]


@pytest.mark.usefixtures("jobs")
def test_kind_all_lists_every_job(owner_client: Client) -> None:
    assert job_names(owner_client, "kind=all&sort=oldest") == [
        "a generation",
        "older run",
        "newer run",
    ]


@pytest.mark.usefixtures("jobs")
@pytest.mark.parametrize("since", ["01/01/2000", "yesterday", "2000-13-01"])
def test_a_date_that_is_not_iso_is_ignored(owner_client: Client, since: str) -> None:
    assert job_names(owner_client, f"since={since}") == ["newer run", "older run"]
    content = owner_client.get(f"/history/?since={since}").content.decode()
    assert 'name="since" value=""' in content


@pytest.mark.usefixtures("jobs")
def test_an_unknown_state_is_ignored(owner_client: Client) -> None:
    assert job_names(owner_client, "state=exploded") == ["newer run", "older run"]
