"""Django's PostgreSQL backend, whose health check makes no round trip on a quiet
connection, whose timestamps are read by psycopg's compiled loader, and which keeps
a cursor for the statements PostgreSQL prepares (``ENGINE = "webapp.postgresql"``,
see DATABASES in the settings).

With CONN_HEALTH_CHECKS, Django runs ``SELECT 1`` on a kept connection before the
first query of each request (and of each Celery task, worker/celery_app.py), so
that a connection the server closed meanwhile (a restart, ``pg_terminate_backend``,
an idle timeout) is replaced instead of failing the request. That round trip cost
a status poll about a twentieth of its CPU, and PostgreSQL a query. A server that
ends a connection first sends it an error and then end of file, so the socket of
a connection it closed has something to read, while that of an idle healthy one
has nothing; only then does this run Django's own check, which also consumes
harmless asynchronous messages (notices, parameter changes) that make a healthy
socket readable.

What neither check can see: a server that vanished without a word (a host or a
network gone, no FIN); the next query then waits for TCP to give up, as a
``SELECT 1`` would have.

Django reads ``timestamptz`` values with a loader derived from psycopg's pure-Python
one (psycopg's compiled loader cannot be subclassed: Django ticket #36960, psycopg
issue #1273): reading a status poll's seven took 106 µs here, 74 µs with
`TimestampLoader`, which does what Django's does with the compiled loader
underneath.

`DatabaseWrapper.statement_cursor` serves webapp.querysets' statements, whose values
go apart from their SQL so that PostgreSQL prepares them: one psycopg cursor is kept
for the connection, where making a new one and closing Django's own, for every
statement, took a status poll a sixteenth of its instructions.
"""

from __future__ import annotations

import datetime as dt
import functools
import select
from typing import Any

from django.db.backends.postgresql import base, operations
from django.utils.asyncio import async_unsafe
from psycopg import Error, abc, adapt, adapters, errors
from psycopg.pq import Format, TransactionStatus

_TIMESTAMPTZ = adapters.types["timestamptz"].oid


def _psycopg_loader() -> type[abc.Loader]:
    """psycopg's own text loader of timestamptz: its compiled one where installed."""
    loader = adapters.get_loader(_TIMESTAMPTZ, Format.TEXT)
    if loader is None:  # psycopg registers one for every built-in type
        raise ImportError("psycopg has no timestamptz loader")
    return loader


_COMPILED_LOADER = _psycopg_loader()


class TimestampLoader(adapt.Loader):
    """Django's ``timestamptz`` loader (``psycopg_any.BaseTzLoader``): psycopg's
    value with the connection's ``timezone`` put in its place (the session's
    time zone, which Django sets to it; None drops it)."""

    timezone: dt.tzinfo | None = None

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._load = _COMPILED_LOADER(oid, context).load

    def load(self, data: Any) -> dt.datetime:
        value: dt.datetime = self._load(data)
        return value.replace(tzinfo=self.timezone)


@functools.lru_cache
def _adapters(template: Any, timezone: dt.tzinfo | None) -> Any:
    """Django's adapters for a connection (``get_adapters_template``) with
    `TimestampLoader` for ``timezone``; built once for each."""
    loader = type("TimestampLoader", (TimestampLoader,), {"timezone": timezone})
    context = adapt.AdaptersMap(template)
    context.register_loader("timestamptz", loader)
    return context


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        """The statement as run, for Django's query log (DEBUG, captured queries).

        A statement sent with its values apart (webapp.querysets' prepared ones)
        is written out as Django writes every statement under server-side binding:
        psycopg keeps the text only of statements it does not prepare.
        """
        if isinstance(cursor, base.ServerBindingCursor):
            try:
                return str(self.compose_sql(sql, params))
            except errors.DataError:  # a value it cannot write out: the statement
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    # A psycopg cursor (django-stubs type Django's subclass without psycopg's).
    _kept_cursor: Any = None

    @async_unsafe
    def statement_cursor(self) -> Any | None:
        """A cursor that sends values apart from the SQL, so that PostgreSQL
        prepares a statement the connection runs often; None where the connection
        prepares none (its ``prepare_threshold``: DATABASE_PREPARED_STATEMENTS=0).

        What ``cursor()`` gives (the same health check, error wrapping and query
        log) around the connection's one kept psycopg cursor: its caller fetches
        what it needs and leaves it open. The next statement drops what the last
        one sent and read (a gallery's PNGs, the most).
        """
        self.close_if_health_check_failed()
        self.ensure_connection()
        if self.connection.prepare_threshold is None:
            return None
        kept = self._kept_cursor
        if kept is None or kept.closed or kept.connection is not self.connection:
            with self.wrap_database_errors:
                # django-stubs leave out psycopg's Cursor arguments.
                kept = base.ServerBindingCursor(self.connection)  # type: ignore[call-arg]
            self._kept_cursor = kept
        # What cursor() wraps its own in; django-stubs leave it out.
        return self._prepare_cursor(kept)  # type: ignore[attr-defined]

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["context"] = _adapters(params["context"], self.timezone)
        return params

    def is_usable(self) -> bool:
        """Usable without a query when idle with nothing to read; otherwise
        Django's ``SELECT 1`` decides."""
        return self._is_idle_and_quiet() or super().is_usable()

    def _is_idle_and_quiet(self) -> bool:
        connection = self.connection
        if connection is None or (
            connection.info.transaction_status != TransactionStatus.IDLE
        ):
            return False
        try:
            socket = connection.fileno()
        except Error:  # libpq has already seen the connection lost
            return False
        # poll() rather than select(): no FD_SETSIZE limit on the descriptor.
        # It reports hang-ups and errors even when only POLLIN is asked for.
        readiness = select.poll()
        readiness.register(socket, select.POLLIN)
        return not readiness.poll(0)
