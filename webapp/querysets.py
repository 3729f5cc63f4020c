"""What every per-owner model's queryset shares, and one UPDATE that returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, transaction
from django.db.models import sql
from django.db.models.expressions import Col

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.backends.base.base import BaseDatabaseWrapper

_M = TypeVar("_M", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows with an ``owner``: a user reads their own through ``for_owner``."""

    def for_owner(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        return self.filter(owner_id=user.pk)


def update_returning(
    queryset: models.QuerySet[_M], returning: Sequence[str], **values: Any
) -> list[tuple[Any, ...]]:
    """``queryset.update(**values)`` as one ``UPDATE … RETURNING returning``.

    The new values of the ``returning`` fields in the rows changed, one tuple per
    row, read by the statement that changed them (no second query can see another
    writer's update in between), converted as a query would (a JSON field comes
    back decoded). Django's ``update()`` returns only a count; PostgreSQL and
    SQLite (3.35 and later) both support RETURNING.
    """
    query = queryset.query.chain(sql.UpdateQuery)
    assert isinstance(query, sql.UpdateQuery)
    query.add_update_values(values)
    connection = connections[queryset.db]
    try:
        statement, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # a filter that matches nothing, such as pk__in=[]
        return []
    columns = []
    for name in returning:
        field = queryset.model._meta.get_field(name)
        assert isinstance(field, models.Field), f"{name} is not a column"
        column = field.get_col(queryset.model._meta.db_table)
        converters = connection.ops.get_db_converters(
            column
        ) + column.get_db_converters(connection)
        columns.append((column, converters))
    names = ", ".join(
        connection.ops.quote_name(str(c.target.column)) for c, _ in columns
    )
    with (
        transaction.mark_for_rollback_on_error(using=queryset.db),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"{statement} RETURNING {names}", params)
        rows = cursor.fetchall()
    return [
        tuple(
            _convert(value, column, converters, connection)
            for value, (column, converters) in zip(row, columns, strict=True)
        )
        for row in rows
    ]


def _convert(
    value: Any, column: Col, converters: list[Any], connection: BaseDatabaseWrapper
) -> Any:
    for converter in converters:
        value = converter(value, column, connection)
    return value
