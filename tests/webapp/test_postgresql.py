"""The PostgreSQL backend (webapp/postgresql/base.py): its health check (no query on
a quiet idle connection, Django's own check on anything else), and the one cursor
it keeps for prepared statements."""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DataError, close_old_connections, connection
from django.db.backends.postgresql import base
from django.db.models.expressions import RawSQL

from webapp.querysets import Placeholder, PreparedQuery

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the backend is PostgreSQL's"
    ),
    # An idle connection: outside the transaction a plain django_db test holds.
    pytest.mark.django_db(transaction=True),
]

Terminate = Callable[[Sequence[int]], None]


@pytest.fixture
def query_check_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each run of Django's ``SELECT 1`` check answered."""
    calls: list[bool] = []
    django_check = base.DatabaseWrapper.is_usable

    def counted(self: Any) -> bool:
        calls.append(django_check(self))
        return calls[-1]

    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", counted)
    return calls


def backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def test_settings_use_the_backend() -> None:
    assert connection.settings_dict["ENGINE"] == "webapp.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_quiet_idle_connection_is_usable_without_a_query(
    query_check_calls: list[bool],
) -> None:
    backend_pid()
    assert connection.is_usable() is True
    assert query_check_calls == []


def test_a_connection_in_a_transaction_gets_the_query(
    query_check_calls: list[bool],
) -> None:
    backend_pid()
    connection.connection.execute("BEGIN")
    assert connection.is_usable() is True
    assert query_check_calls == [True]
    connection.connection.execute("ROLLBACK")


def test_a_connection_the_server_ended_is_unusable(
    terminate_backends: Terminate, query_check_calls: list[bool]
) -> None:
    terminate_backends([backend_pid()])
    assert connection.is_usable() is False
    assert query_check_calls == [False]
    connection.close()


def test_a_notification_waiting_is_consumed_by_the_query(
    query_check_calls: list[bool],
) -> None:
    backend_pid()
    connection.connection.execute("LISTEN studio_test")
    notifier = connection.copy()
    with notifier.cursor() as cursor:
        cursor.execute("NOTIFY studio_test")
    notifier.close()
    # The server delivers it asynchronously: wait (with a deadline) until it can
    # be read.
    assert select.select([connection.connection.fileno()], [], [], 30)[0]
    assert connection.is_usable() is True
    assert query_check_calls == [True]
    assert connection.is_usable() is True
    assert query_check_calls == [True]


def test_the_next_request_replaces_a_connection_the_server_ended(
    terminate_backends: Terminate,
) -> None:
    """What Django does at the start and end of a request, around a restart."""
    ended = backend_pid()
    close_old_connections()
    terminate_backends([ended])
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended


# --- The kept cursor of prepared statements -------------------------------------------


@pytest.fixture
def binding_cursors_made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every psycopg cursor the backend makes for prepared statements from now on."""
    made: list[Any] = []

    class Counted(base.ServerBindingCursor):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(base, "ServerBindingCursor", Counted)
    return made


def owner_query() -> PreparedQuery:
    return PreparedQuery(
        User.objects.filter(pk=Placeholder("pk", User._meta.pk)).values("username")
    )


def test_prepared_statements_run_on_one_kept_cursor(
    binding_cursors_made: list[Any],
) -> None:
    user = User.objects.create_user("kept-cursor")
    connection.close()  # a connection with no kept cursor yet
    query = owner_query()
    for _ in range(3):
        assert query.first(pk=user.pk) == {"username": "kept-cursor"}
    assert User.objects.filter(pk=user.pk).update(first_name="K") == 1  # Django's own
    assert query.first(pk=user.pk) == {"username": "kept-cursor"}
    [kept] = binding_cursors_made
    assert not kept.closed
    # The statement is prepared: planned once for the connection.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
            [query.sql.replace("%s", "$1")],
        )
        assert cursor.fetchone()[0] == 1


def test_a_new_connection_gets_a_new_kept_cursor(
    binding_cursors_made: list[Any],
) -> None:
    user = User.objects.create_user("reconnected")
    query = owner_query()
    query.first(pk=user.pk)
    ended = backend_pid()
    connection.close()
    assert query.first(pk=user.pk) == {"username": "reconnected"}
    assert backend_pid() != ended
    assert binding_cursors_made[-1].connection is connection.connection
    assert not binding_cursors_made[-1].closed


def test_a_failed_statement_leaves_the_kept_cursor_usable(
    binding_cursors_made: list[Any],
) -> None:
    user = User.objects.create_user("after-error")
    query = owner_query()
    with pytest.raises(DataError):
        PreparedQuery(
            User.objects.filter(pk=Placeholder("pk", User._meta.pk))
            .annotate(broken=RawSQL("1 / (%s - %s)", (1, 1)))
            .values("broken")
        ).first(pk=user.pk)
    assert query.first(pk=user.pk) == {"username": "after-error"}
    assert len({id(cursor) for cursor in binding_cursors_made}) == 1


def test_without_prepared_statements_django_cursors_serve(
    binding_cursors_made: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection pooler's setting (DATABASE_PREPARED_STATEMENTS=0)."""
    user = User.objects.create_user("unprepared")
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    assert connection.statement_cursor() is None
    assert owner_query().first(pk=user.pk) == {"username": "unprepared"}
    assert binding_cursors_made == []
