"""What every per-owner model's queryset shares, and one UPDATE that returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, transaction
from django.db.models import sql

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

_M = TypeVar("_M", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows with an ``owner``: a user reads their own through ``for_owner``."""

    def for_owner(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        return self.filter(owner_id=user.pk)


def update_returning(
    queryset: models.QuerySet[_M], returning: str, **values: Any
) -> list[Any]:
    """``queryset.update(**values)`` as one ``UPDATE … RETURNING returning``.

    The new values of ``returning`` in the rows changed, read by the statement that
    changed them (no second query can see another writer's update in between).
    Django's ``update()`` returns only a count; PostgreSQL and SQLite (3.35 and
    later) both support RETURNING.
    """
    query = queryset.query.chain(sql.UpdateQuery)
    assert isinstance(query, sql.UpdateQuery)
    query.add_update_values(values)
    connection = connections[queryset.db]
    try:
        statement, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # a filter that matches nothing, such as pk__in=[]
        return []
    field = queryset.model._meta.get_field(returning)
    assert isinstance(field, models.Field), f"{returning} is not a column"
    with (
        transaction.mark_for_rollback_on_error(using=queryset.db),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"{statement} RETURNING {connection.ops.quote_name(str(field.column))}",
            params,
        )
        return [row[0] for row in cursor.fetchall()]
