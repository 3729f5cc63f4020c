"""The PostgreSQL backend's ``timestamptz`` loader (webapp/postgresql/base.py):
Django's values, read by psycopg's compiled loader."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the backend is PostgreSQL's"
    ),
    pytest.mark.django_db,
]

TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid
LITERALS = [
    "2026-11-30 07:01:02.345678+00",
    "2026-06-01 12:00:00+05:30",
    "1970-01-01 00:00:00+00",
    "1999-12-31 23:59:59.999999-08",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]
QUERY = "SELECT " + ", ".join(f"'{literal}'::timestamptz" for literal in LITERALS)


def test_the_connection_reads_timestamps_with_the_backends_loader() -> None:
    from webapp.postgresql.base import TimestampLoader

    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert issubclass(loader, TimestampLoader)
    assert loader.timezone == connection.timezone == dt.UTC
    # The compiled loader (psycopg[binary]) underneath.
    assert type(
        loader(TIMESTAMPTZ, connection.connection)._load.__self__
    ).__module__ == ("psycopg_binary._psycopg")


def test_timestamps_read_as_djangos_own_loader_reads_them() -> None:
    with connection.cursor() as cursor:
        cursor.execute(QUERY)
        ours = cursor.fetchone()
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute(QUERY)
        djangos = cursor.fetchone()
    assert ours == djangos
    assert [value.tzinfo for value in ours] == [dt.UTC] * len(LITERALS)
    assert ours[0] == dt.datetime(2026, 11, 30, 7, 1, 2, 345678, tzinfo=dt.UTC)
    assert ours[1] == dt.datetime(2026, 6, 1, 6, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("djangos", [False, True])
def test_an_infinite_timestamp_is_refused_as_django_refuses_it(djangos: bool) -> None:
    with connection.cursor() as cursor:
        if djangos:
            register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute("SELECT 'infinity'::timestamptz")
        with pytest.raises(DataError, match="infinity"):
            cursor.fetchone()
