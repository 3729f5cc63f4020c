"""A failed job's page shows the worker's last log lines for it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def test_a_failed_jobs_page_shows_its_log_tail(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    tail = "2026-01-01 INFO runner: Job claimed\n2026-01-01 ERROR runner: <failed>"
    job = make_job(owner, state=Job.State.FAILED, error="Boom", log_tail=tail)
    content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    shown = re.search(
        r'<pre class="error-text" id="job-log-tail-text">(.*?)</pre>', content, re.S
    )
    assert shown is not None
    assert shown.group(1) == tail.replace("<", "&lt;").replace(">", "&gt;")
    assert re.search(r'<details id="job-log-tail"\s*>', content)
    assert owner_client.get(f"/api/v1/jobs/{job.pk}").json()["log_tail"] == tail


def test_a_job_without_a_log_tail_hides_the_section(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    job = make_job(owner, state=Job.State.FAILED, error="Boom")
    content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    assert re.search(r'<details id="job-log-tail"\s+hidden\s*>', content)
