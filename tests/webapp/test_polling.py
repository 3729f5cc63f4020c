from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(owner: User) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}"
    )
    return client


@pytest.mark.parametrize("state", list(Job.State))
def test_a_poll_with_a_token_costs_at_most_two_queries(
    token_client: APIClient, owner: User, make_job: Any, state: str
) -> None:
    make_job(owner)  # one ahead in the queue
    job = make_job(owner, state=state)
    with CaptureQueriesContext(connection) as queries:
        response = token_client.get(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 200
    data = response.json()
    assert (data["state"], data["queue_position"]) == (
        state,
        2 if state == Job.State.QUEUED else None,
    )
    assert len(queries) <= 2, [query["sql"] for query in queries]


def test_listing_queued_jobs_costs_the_same_queries_for_one_or_many(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    make_job(owner)
    with CaptureQueriesContext(connection) as one:
        token_client.get("/api/v1/jobs/")
    for _ in range(4):
        make_job(owner)
    with CaptureQueriesContext(connection) as five:
        response = token_client.get("/api/v1/jobs/")
    positions = [job["queue_position"] for job in response.json()["results"]]
    assert positions == [5, 4, 3, 2, 1]
    assert len(five) == len(one)


def test_list_filters_leave_the_poll_of_one_job_alone(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    assert token_client.get("/api/v1/jobs/?state=running").json()["count"] == 0
    response = token_client.get(f"/api/v1/jobs/{job.pk}?state=running")
    assert response.status_code == 200
    assert response.json()["state"] == "queued"
