"""The PostgreSQL backend's health check (webapp/postgresql/base.py): no query on
a quiet idle connection, Django's own check on anything else."""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.db.backends.postgresql import base

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
