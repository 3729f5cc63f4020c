from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from webapp.accounts.authentication import TokenAuthentication
from webapp.gallery.models import Gallery
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


def test_a_token_poll_of_ones_own_job_reads_token_user_and_job_in_one_query(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    with CaptureQueriesContext(connection) as queries:
        response = token_client.get(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(job.pk)
    assert len(queries) == 1, [query["sql"] for query in queries]
    # Signed in as DRF's token authentication would have.
    request = response.renderer_context["request"]
    assert (request.user, request.auth) == (owner, Token.objects.get(user=owner))
    assert isinstance(request.successful_authenticator, TokenAuthentication)
    assert response.wsgi_request.user == owner


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL prepares statements"
)
def test_postgresql_plans_a_token_poll_once_not_at_every_poll(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    # A table as a working site's: most jobs long finished, a few queued. The
    # statistics (rolled back with the test) let the planner know it.
    finished = make_job(owner, state=Job.State.SUCCEEDED)
    Job.objects.bulk_create(
        Job(owner=owner, kind=finished.kind, params=finished.params, state=state)
        for state in [Job.State.SUCCEEDED] * 950 + [Job.State.FAILED] * 50
    )
    jobs = [make_job(owner) for _ in range(4)] + [
        make_job(owner, state=state) for state in Job.State
    ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_job")
    for job in jobs:  # beyond the five runs PostgreSQL plans for their values
        assert token_client.get(f"/api/v1/jobs/{job.pk}").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ['%"authtoken_token"."key" = ($%'],
        )
        (generic_plans, custom_plans), *others = cursor.fetchall()
    assert others == []
    assert (generic_plans, custom_plans) == (len(jobs) - 5, 5)


def test_a_token_poll_of_a_job_not_ones_own_costs_at_most_two_queries(
    token_client: APIClient, other_user: User, make_job: Any
) -> None:
    theirs = make_job(other_user)
    for job_id in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
        with CaptureQueriesContext(connection) as queries:
            response = token_client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 404
        assert len(queries) <= 2, [query["sql"] for query in queries]


def test_a_poll_signed_in_by_session_reads_the_job_as_with_a_token(
    owner: User, other_user: User, make_job: Any
) -> None:
    mine, theirs = make_job(owner), make_job(other_user)
    client = APIClient()
    client.force_login(owner)
    assert client.get(f"/api/v1/jobs/{mine.pk}").json()["id"] == str(mine.pk)
    assert client.get(f"/api/v1/jobs/{theirs.pk}").status_code == 404


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        (
            "Token a b",
            "Invalid token header. Token string should not contain spaces.",
        ),
        ("Token unknown", "Invalid token."),
    ],
)
def test_a_poll_with_a_malformed_or_unknown_token_is_drfs_401(
    owner: User, make_job: Any, header: str, detail: str
) -> None:
    job = make_job(owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"/api/v1/jobs/{job.pk}")
    assert (response.status_code, response.json()) == (401, {"detail": detail})


def test_a_poll_with_a_revoked_token_is_a_401(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    assert token_client.get(f"/api/v1/jobs/{job.pk}").status_code == 200
    Token.objects.filter(user=owner).delete()
    response = token_client.get(f"/api/v1/jobs/{job.pk}")
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Invalid token."},
    )


@pytest.mark.parametrize("key", ["\x00", "abc\x00def"])
def test_a_token_with_a_nul_character_is_a_401(
    owner: User, make_job: Any, key: str
) -> None:
    job = make_job(owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(f"/api/v1/jobs/{job.pk}")
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Invalid token."},
    )


def test_a_poll_with_the_token_of_a_deactivated_user_is_a_401(
    token_client: APIClient, owner: User, make_job: Any
) -> None:
    job = make_job(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    response = token_client.get(f"/api/v1/jobs/{job.pk}")
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "User inactive or deleted."},
    )


def test_a_poll_of_another_users_job_is_a_404(
    token_client: APIClient, owner: User, other_user: User, make_job: Any
) -> None:
    theirs = make_job(other_user)
    for job_id in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
        assert token_client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    other = APIClient()
    other.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}"
    )
    assert other.get(f"/api/v1/jobs/{theirs.pk}").json()["id"] == str(theirs.pk)


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


def test_a_poll_shows_each_job_exactly_as_the_serializer_does(
    token_client: APIClient, owner: User, make_job: Any, make_model_version: Any
) -> None:
    moment = dt.datetime(2026, 11, 30, 7, 1, 2, 345678, tzinfo=dt.UTC)
    jobs = [make_job(owner, state=state) for state in Job.State]
    jobs.append(
        make_job(
            owner,
            state=Job.State.RUNNING,
            progress=0.25,
            phase="search",
            attempts=2,
            cancel_requested=True,
            started_at=moment,
            heartbeat_at=moment + dt.timedelta(seconds=1),
        )
    )
    jobs.append(
        make_job(
            owner,
            state=Job.State.FAILED,
            error="Out of time.",
            log_tail="a line\nanother, with ünïcode",
            started_at=moment,
            finished_at=moment,
        )
    )
    training = make_job(owner, state=Job.State.SUCCEEDED, progress=1.0)
    model_version = make_model_version(owner, training_job=training)
    generation = make_job(
        owner,
        kind=Job.Kind.GENERATION,
        state=Job.State.SUCCEEDED,
        params={"n_images": 4, "digit": None, "temperature": 0.5},
    )
    Gallery.objects.create(
        owner=owner, job=generation, model_version=model_version, n_images=0, seed=1
    )
    jobs += [training, generation]
    # The list shows each job through JobSerializer.
    listed = {
        item["id"]: item
        for item in token_client.get("/api/v1/jobs/?format=json").json()["results"]
    }
    assert len(listed) == len(jobs)
    for job in jobs:
        polled = token_client.get(f"/api/v1/jobs/{job.pk}?format=json").json()
        # Same fields, values and order (json.dumps keeps the order).
        assert json.dumps(polled) == json.dumps(listed[str(job.pk)])
