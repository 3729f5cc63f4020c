"""The query layer the API and the pages share: the models' QuerySet methods."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Upper

from webapp.gallery.models import Gallery, GeneratedImage
from webapp.jobs.models import Job, ModelVersion
from webapp.querysets import (
    GuardedInsert,
    Placeholder,
    PreparedInsert,
    PreparedQuery,
    PreparedUpdate,
)

pytestmark = pytest.mark.django_db


def test_model_versions_visible_to_a_user_are_their_own_and_public_ones(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    mine = make_model_version(owner)
    public = make_model_version(other_user, is_public=True)
    make_model_version(other_user)
    assert set(ModelVersion.objects.visible_to(owner)) == {mine, public}
    assert set(ModelVersion.objects.visible_to(AnonymousUser())) == {public}
    assert list(ModelVersion.objects.for_owner(owner)) == [mine]


def test_without_file_defers_only_the_model_file(
    owner: User, make_model_version: Any
) -> None:
    make_model_version(owner)
    (model_version,) = ModelVersion.objects.without_file()
    assert model_version.get_deferred_fields() == {"model_file"}


def test_a_gallery_with_its_model_version_leaves_the_model_file_behind(
    owner: User, make_model_version: Any
) -> None:
    model_version = make_model_version(owner)
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION)
    Gallery.objects.create(
        owner=owner, job=job, model_version=model_version, n_images=0, seed=1
    )
    (gallery,) = Gallery.objects.with_model_version()
    assert gallery.model_version.get_deferred_fields() == {"model_file"}


def test_jobs_with_results_carry_the_ids_of_what_they_created(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    training = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING)
    model_version = make_model_version(owner, training_job=training)
    generation = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION)
    gallery = Gallery.objects.create(
        owner=owner, job=generation, model_version=model_version, n_images=0, seed=1
    )
    Job.objects.create(owner=other_user, kind=Job.Kind.TRAINING)

    rows = {
        job.pk: (job.result_model_version_id, job.result_gallery_id)
        for job in Job.objects.for_owner(owner).with_results()
    }
    assert rows == {
        training.pk: (model_version.pk, None),
        generation.pk: (None, gallery.pk),
    }


def test_demo_trainings_are_unfinished_trainings_of_a_public_model(
    owner: User,
) -> None:
    queued = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING, publish_model=True)
    running = Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        publish_model=True,
        state=Job.State.RUNNING,
    )
    Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        publish_model=True,
        state=Job.State.SUCCEEDED,
    )
    Job.objects.create(owner=owner, kind=Job.Kind.TRAINING)
    assert set(Job.objects.demo_trainings()) == {queued, running}


def test_galleries_and_images_for_an_owner(
    owner: User, other_user: User, make_model_version: Any
) -> None:
    galleries = []
    for user in (owner, other_user):
        job = Job.objects.create(owner=user, kind=Job.Kind.GENERATION)
        gallery = Gallery.objects.create(owner=user, job=job, n_images=1, seed=1)
        GeneratedImage.objects.create(gallery=gallery, index=0, seed=1, png=b"png")
        galleries.append(gallery)

    (mine,) = Gallery.objects.for_owner(owner).with_model_version().with_images()
    assert mine == galleries[0]
    (image,) = mine.images.all()
    assert image.get_deferred_fields() == {"png"}
    assert [image.gallery_id for image in GeneratedImage.objects.for_owner(owner)] == [
        mine.pk
    ]


def test_a_prepared_update_returns_the_new_values_of_the_rows_it_changed(
    owner: User,
) -> None:
    first = Job.objects.create(
        owner=owner, kind=Job.Kind.TRAINING, attempts=1, params={"seed": 1}
    )
    second = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING, attempts=4)
    untouched = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, attempts=7)

    returned = PreparedUpdate(
        Job.objects.filter(kind=Job.Kind.TRAINING),
        ("attempts", "params", "owner_id"),
        attempts=F("attempts") + 1,
        phase="bumped",
    ).rows()

    # Converted as a query's values are: the JSON field comes back decoded.
    assert sorted(returned, key=lambda row: row[0]) == [
        (2, {"seed": 1}, owner.pk),
        (5, {}, owner.pk),
    ]
    with pytest.raises(EmptyResultSet):
        PreparedUpdate(Job.objects.none(), ("attempts",), phase="x")
    for job, attempts, phase in ((first, 2, "bumped"), (second, 5, "bumped")):
        job.refresh_from_db()
        assert (job.attempts, job.phase) == (attempts, phase)
    untouched.refresh_from_db()
    assert (untouched.attempts, untouched.phase) == (7, "")


def test_a_prepared_update_returns_expressions_of_the_rows_it_changed(
    owner: User,
) -> None:
    other = User.objects.create_user("other")
    jobs = [
        Job.objects.create(owner=user, kind=Job.Kind.TRAINING, name=name)
        for user, name in ((owner, "first"), (other, "second"))
    ]
    update = PreparedUpdate(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.get_field("id"))),
        (
            "name",
            Subquery(User.objects.filter(pk=OuterRef("owner_id")).values("username")),
            Upper("phase"),
        ),
        phase=Placeholder("phase", Job._meta.get_field("phase")),
    )
    # Read from the row as the statement left it (the new phase).
    assert update.rows(pk=jobs[0].pk, phase="a") == [("first", owner.username, "A")]
    assert update.rows(pk=jobs[1].pk, phase="b") == [("second", "other", "B")]
    assert update.rows(pk=uuid.uuid4(), phase="c") == []


def test_a_prepared_update_writes_the_values_it_is_run_with(owner: User) -> None:
    jobs = [
        Job.objects.create(owner=owner, kind=Job.Kind.TRAINING, attempts=attempts)
        for attempts in (1, 2, 3)
    ]
    update = PreparedUpdate(
        Job.objects.filter(
            pk=Placeholder("pk", Job._meta.get_field("id")),
            attempts__lt=Placeholder("below", Job._meta.get_field("attempts")),
        ),
        phase=Placeholder("phase", Job._meta.get_field("phase")),
    )
    assert update.count(pk=jobs[0].pk, below=2, phase="first") == 1
    assert update.count(pk=str(jobs[1].pk), below=2, phase="second") == 0
    assert update.count(pk=jobs[2].pk, below=9, phase="third") == 1
    assert [Job.objects.get(pk=job.pk).phase for job in jobs] == ["first", "", "third"]
    with pytest.raises(ValidationError):
        update.count(pk="not-a-uuid", below=2, phase="x")


def test_a_prepared_insert_writes_what_bulk_create_would(
    owner: User, django_assert_num_queries: Any
) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION)
    gallery = Gallery(owner=owner, job=job, n_images=6, seed=1, walk={"to": 3})
    PreparedInsert(Gallery).run([gallery])
    assert not gallery._state.adding
    stored = Gallery.objects.get(pk=gallery.pk)
    # Defaults, and created_at from pre_save (auto_now_add), as a save() gives.
    assert (stored.job_id, stored.name, stored.walk) == (job.pk, "", {"to": 3})
    assert stored.created_at == gallery.created_at is not None

    insert = PreparedInsert(GeneratedImage)
    batches = [
        [(0, None, 5, b"\x00a"), (1, 3, 6, b"b")],
        [(2, 1, 2**40, b"")],
        [(3, None, 0, b"c"), (4, 9, 1, b"d")],
        [(5, None, 7, b"e" * 1000)],
    ]
    images = []
    with django_assert_num_queries(len(batches)):
        for batch in batches:
            objs = [
                GeneratedImage(gallery=gallery, index=index, digit=d, seed=s, png=p)
                for index, d, s, p in batch
            ]
            insert.run(objs)
            images += objs
        insert.run([])
    rows = GeneratedImage.objects.order_by("index").values_list(
        "pk", "index", "digit", "seed", "png"
    )
    assert [(*row[:4], bytes(row[4])) for row in rows] == [
        (image.pk, *values)
        for image, values in zip(
            images, [row for batch in batches for row in batch], strict=True
        )
    ]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's arrays (UNNEST)"
)
def test_a_prepared_insert_of_several_rows_is_one_statement_of_one_array_a_column(
    owner: User, django_assert_num_queries: Any
) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION)
    gallery = Gallery.objects.create(owner=owner, job=job, n_images=0, seed=1)
    insert = PreparedInsert(GeneratedImage)
    with django_assert_num_queries(2):
        for first, count in ((0, 2), (2, 16)):
            insert.run(
                [
                    GeneratedImage(gallery=gallery, index=index, seed=index, png=b"p")
                    for index in range(first, first + count)
                ]
            )
    assert list(
        GeneratedImage.objects.filter(gallery=gallery)
        .order_by("index")
        .values_list("index", "seed", "png")
    ) == [(index, index, b"p") for index in range(18)]
    # The same SQL for any number of rows, with a parameter a column (the binary
    # one too): PostgreSQL plans it once, and psycopg parses it once, where it
    # parsed anew at each run a statement of more than 50 parameters (16 rows).
    text, by_column = insert._statement(16)
    assert (text, by_column) == insert._statement(2)
    assert by_column
    assert "SELECT * FROM UNNEST(" in text
    assert text.count("%s") == len(insert.fields) == 5


def _guarded_gallery_insert() -> GuardedInsert:
    """A gallery and its images, written if their job's phase was "running"."""
    return GuardedInsert(
        PreparedUpdate(
            Job.objects.filter(
                pk=Placeholder("pk", Job._meta.get_field("id")), phase="running"
            ),
            phase=Placeholder("phase", Job._meta.get_field("phase")),
        ),
        PreparedInsert(Gallery),
        PreparedInsert(GeneratedImage),
        "gallery",
    )


def _gallery_and_images(
    owner: User, job: Job, pngs: list[bytes]
) -> tuple[Gallery, list[GeneratedImage]]:
    gallery = Gallery(
        owner=owner, job=job, n_images=len(pngs), seed=3, digit=4, walk={"to": 3}
    )
    images = [
        GeneratedImage(index=index, digit=4, seed=3 + index, png=png)
        for index, png in enumerate(pngs)
    ]
    return gallery, images


def test_a_guarded_insert_writes_its_objects_once_the_guard_changed_a_row(
    owner: User, django_assert_num_queries: Any
) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, phase="running")
    gallery, images = _gallery_and_images(owner, job, [b"\x00a", b"", b"c" * 1000])
    insert = _guarded_gallery_insert()
    # One statement on PostgreSQL; elsewhere the three in a transaction (a
    # savepoint here: the test's own transaction is open).
    postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(1 if postgresql else 5):
        assert insert.run({"pk": job.pk, "phase": "done"}, gallery, images)
    job.refresh_from_db()
    assert job.phase == "done"
    assert not gallery._state.adding
    # What a save() gives: defaults, created_at from pre_save (auto_now_add).
    stored = Gallery.objects.get(pk=gallery.pk)
    assert (stored.job_id, stored.name, stored.walk, stored.digit, stored.n_images) == (
        job.pk,
        "",
        {"to": 3},
        4,
        3,
    )
    assert stored.created_at == gallery.created_at is not None
    rows = stored.images.order_by("index").values_list("index", "digit", "seed", "png")
    assert [(*row[:3], bytes(row[3])) for row in rows] == [
        (0, 4, 3, b"\x00a"),
        (1, 4, 4, b""),
        (2, 4, 5, b"c" * 1000),
    ]


def test_a_guarded_insert_writes_nothing_when_the_guard_changes_no_row(
    owner: User,
) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, phase="queued")
    insert = _guarded_gallery_insert()
    for pk in (job.pk, uuid.uuid4()):
        gallery, images = _gallery_and_images(owner, job, [b"a", b"b"])
        assert not insert.run({"pk": pk, "phase": "done"}, gallery, images)
        assert gallery.pk is None
    assert (Gallery.objects.count(), GeneratedImage.objects.count()) == (0, 0)
    job.refresh_from_db()
    assert job.phase == "queued"


def test_a_guarded_insert_writes_its_objects_once_whatever_rows_the_guard_changed(
    owner: User,
) -> None:
    jobs = [
        Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, phase="running")
        for _ in range(2)
    ]
    insert = GuardedInsert(
        PreparedUpdate(Job.objects.filter(phase="running"), phase="done"),
        PreparedInsert(Gallery),
        PreparedInsert(GeneratedImage),
        "gallery",
    )
    gallery, images = _gallery_and_images(owner, jobs[0], [b"a"])
    assert insert.run({}, gallery, images)
    assert (Gallery.objects.count(), GeneratedImage.objects.count()) == (1, 1)
    assert set(Job.objects.values_list("phase", flat=True)) == {"done"}


def test_a_guarded_insert_writes_all_or_nothing(owner: User) -> None:
    job = Job.objects.create(owner=owner, kind=Job.Kind.GENERATION, phase="running")
    gallery, images = _gallery_and_images(owner, job, [b"a", b"b"])
    images[1].index = 0  # one image per index of a gallery: the second fails
    with pytest.raises(IntegrityError), transaction.atomic():
        _guarded_gallery_insert().run({"pk": job.pk, "phase": "done"}, gallery, images)
    assert (Gallery.objects.count(), GeneratedImage.objects.count()) == (0, 0)
    job.refresh_from_db()
    assert job.phase == "running"


def test_a_guarded_insert_needs_a_guard_without_returning_and_a_link() -> None:
    guard = PreparedUpdate(Job.objects.all(), phase="x")
    returning = PreparedUpdate(Job.objects.all(), ("phase",), phase="x")
    gallery, image = PreparedInsert(Gallery), PreparedInsert(GeneratedImage)
    with pytest.raises(ValueError, match="return nothing"):
        GuardedInsert(returning, gallery, image, "gallery")
    with pytest.raises(ValueError, match="no link"):
        GuardedInsert(guard, gallery, image, "digit")
    with pytest.raises(ValueError, match="no link"):
        GuardedInsert(guard, image, gallery, "job")


def test_a_prepared_insert_without_a_binary_field_writes_its_objects(
    django_assert_num_queries: Any,
) -> None:
    # On PostgreSQL, Django sends such rows as one array per column.
    insert = PreparedInsert(User)
    users = [User(username=name, email=f"{name}@example.com") for name in "abc"]
    with django_assert_num_queries(2):
        insert.run(users[:2])
        insert.run(users[2:])
    assert list(User.objects.order_by("username").values_list("pk", "email")) == [
        (user.pk, user.email) for user in users
    ]


def test_a_prepared_query_gives_for_each_value_what_values_gives(
    owner: User, other_user: User, make_job: Any
) -> None:
    jobs = [
        make_job(owner),
        make_job(owner, params={"n": [1, 2]}),
        make_job(other_user),
    ]
    names = ("id", "owner_id", "params", "created_at", "queue_position")
    prepared = PreparedQuery(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.pk))
        .with_results()
        .values(*names)
    )
    for job in jobs:
        expected = Job.objects.filter(pk=job.pk).with_results().values(*names).get()
        assert prepared.first(pk=job.pk) == expected
        assert prepared.first(pk=str(job.pk)) == expected
    assert prepared.first(pk=uuid.uuid4()) is None


def test_a_placeholder_may_stand_at_several_places_of_a_prepared_query(
    owner: User, other_user: User, make_job: Any
) -> None:
    user_id = Placeholder("user_id", User._meta.pk)
    prepared = PreparedQuery(
        User.objects.filter(pk=user_id)
        .annotate(has_jobs=Exists(Job.objects.filter(owner_id=user_id)))
        .values("pk", "has_jobs")
    )
    make_job(owner)
    assert prepared.first(user_id=owner.pk) == {"pk": owner.pk, "has_jobs": True}
    assert prepared.first(user_id=other_user.pk) == {
        "pk": other_user.pk,
        "has_jobs": False,
    }


def test_a_prepared_query_with_constants_finds_what_the_queryset_finds(
    owner: User, other_user: User, make_job: Any
) -> None:
    """On PostgreSQL its constants are written into its SQL: strings with
    percent signs and quotes, a LIKE pattern's escapes, integers, booleans."""
    for user in (owner, other_user):
        for name in ("it's 100% done", "100 % done", "it's 100% done too", "done"):
            make_job(user, name=name)
    make_job(owner, name="it's 100% done", cancel_requested=True)
    make_job(owner, name="it's 100% done", attempts=1)
    queryset = Job.objects.filter(
        name__contains="it's 100%", cancel_requested=False, attempts__lt=1
    ).order_by("-name")
    owner_id = Placeholder("owner_id", User._meta.pk)

    prepared = PreparedQuery(queryset.filter(owner_id=owner_id).values("name"))

    for user in (owner, other_user):
        assert prepared.first(owner_id=user.pk) == {"name": "it's 100% done too"}
        assert queryset.filter(owner=user).count() == 2
    if connection.vendor == "postgresql":
        assert prepared.params == [owner_id]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL prepares statements"
)
def test_with_prepared_statements_off_a_prepared_query_runs_unprepared(
    owner: User, make_job: Any
) -> None:
    """DATABASE_PREPARED_STATEMENTS=0 (a pooler that cannot keep them): Django's
    own cursor runs the SQL, constants written in, and PostgreSQL keeps nothing."""
    jobs = [make_job(owner, name="it's 100% done"), make_job(owner, name="done")]
    prepared = PreparedQuery(
        Job.objects.filter(
            pk=Placeholder("pk", Job._meta.pk), name__contains="100%", attempts=0
        ).values("name")
    )
    psycopg_connection = connection.connection
    psycopg_connection.prepare_threshold = None
    try:
        found = [prepared.first(pk=job.pk) for job in jobs * 3]
    finally:
        psycopg_connection.prepare_threshold = 0
    assert found == [{"name": "it's 100% done"}, None] * 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)


def test_a_placeholder_name_stands_for_one_field() -> None:
    queryset = Job.objects.filter(
        pk=Placeholder("value", Job._meta.pk),
        name=Placeholder("value", Job._meta.get_field("name")),
    ).values("id")
    with pytest.raises(ValueError, match="two fields"):
        PreparedQuery(queryset)


def test_a_prepared_query_refuses_a_value_its_field_cannot_take(owner: User) -> None:
    prepared = PreparedQuery(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.pk)).values("id")
    )
    with pytest.raises(ValidationError):
        prepared.first(pk="not-a-uuid")


def test_a_prepared_query_needs_a_values_queryset() -> None:
    with pytest.raises(ValueError, match="values"):
        PreparedQuery(Job.objects.filter(pk=Placeholder("pk", Job._meta.pk)))


def test_the_query_log_shows_the_statements_of_prepared_queries(
    owner: User, make_job: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    job = make_job(owner)
    prepared = PreparedQuery(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.pk)).values("id")
    )
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):  # prepared by PostgreSQL from the first on
            assert prepared.first(pk=job.pk) == {"id": job.pk}
    logged = [query["sql"] for query in queries.captured_queries]
    assert len(logged) == 3
    assert all(sql.startswith('SELECT "jobs_job"."id"') for sql in logged), logged


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL prepares statements"
)
def test_postgresql_plans_a_prepared_query_once_per_connection(
    owner: User, make_job: Any
) -> None:
    prepared = PreparedQuery(
        Job.objects.filter(pk=Placeholder("pk", Job._meta.pk)).values("id")
    )
    for job in (make_job(owner), make_job(owner), make_job(owner)):
        assert prepared.first(pk=job.pk) == {"id": job.pk}
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert statements == [prepared.sql.replace("%s", "$1")]


def test_a_prepared_insert_leaves_database_defaults_to_the_database(
    owner: User,
) -> None:
    insert = PreparedInsert(Job)
    jobs = [Job(owner=owner, kind=Job.Kind.GENERATION, name=n) for n in "ab"]
    insert.run(jobs)
    stored = Job.objects.order_by("name")
    # The database's Now(), read back by the INSERT itself.
    assert [job.dispatched_at for job in jobs] == [job.dispatched_at for job in stored]
    assert None not in [job.dispatched_at for job in jobs]
    # A value of the caller's own would be silently replaced: refused instead.
    own = Job(
        owner=owner, kind=Job.Kind.GENERATION, dispatched_at=jobs[0].dispatched_at
    )
    with pytest.raises(ValueError, match="dispatched_at is the database's own"):
        insert.run([own])
    assert Job.objects.count() == 2
