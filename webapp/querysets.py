"""What every per-owner model's queryset shares, and queries and UPDATEs (which may
return what they wrote) compiled once and run with new values."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from django.db import connections, models, router, transaction
from django.db.models import Expression, sql
from django.db.models.expressions import BaseExpression, Col, DatabaseDefault

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.backends.base.base import BaseDatabaseWrapper

_M = TypeVar("_M", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows with an ``owner``: a user reads their own through ``for_owner``."""

    def for_owner(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        return self.filter(owner_id=user.pk)


def _convert(
    value: Any,
    column: BaseExpression,
    converters: list[Any],
    connection: BaseDatabaseWrapper,
) -> Any:
    for converter in converters:
        value = converter(value, column, connection)
    return value


def _returned_columns(
    expressions: Sequence[BaseExpression], connection: BaseDatabaseWrapper
) -> list[tuple[BaseExpression, list[Any]]]:
    """What a statement returns (columns, or expressions of the row), each with
    the converters a query applies to its values."""
    return [
        (
            expression,
            # django-stubs type this Expression; Django takes any resolved one.
            connection.ops.get_db_converters(expression)  # type: ignore[arg-type]
            + expression.get_db_converters(connection),
        )
        for expression in expressions
    ]


def _column(field: models.Field[Any, Any]) -> Col:
    return field.get_col(field.model._meta.db_table)


def _converted_rows(
    rows: Sequence[Sequence[Any]],
    columns: Sequence[tuple[BaseExpression, list[Any]]],
    connection: BaseDatabaseWrapper,
) -> list[tuple[Any, ...]]:
    """Rows a statement returned (`_returned_columns`), converted as a query's."""
    return [
        tuple(
            _convert(value, column, converters, connection)
            for value, (column, converters) in zip(row, columns, strict=True)
        )
        for row in rows
    ]


class Placeholder(Expression):
    """A value of ``field`` that a prepared statement (`PreparedQuery`,
    `PreparedUpdate`) is given each time it runs."""

    def __init__(self, name: str, field: models.Field[Any, Any]) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", (self,)


class _PreparingCursor:
    """``with _PreparingCursor(connection) as cursor``: a cursor whose statements
    PostgreSQL prepares.

    Django's cursors bind values into the SQL text on the client, which PostgreSQL
    parses and plans anew every time. Where the connection prepares statements
    (webapp.postgresql's ``statement_cursor``; see DATABASES in the settings),
    this is its kept cursor, which sends the values apart, so that a statement run
    often is planned once per connection; it stays open. Elsewhere (SQLite, or
    prepared statements turned off for a connection pooler) it is Django's own,
    closed after use. A class, not a generator: it runs for every statement.
    """

    __slots__ = ("_close", "cursor")

    def __init__(self, connection: Any) -> None:
        statement_cursor = getattr(connection, "statement_cursor", None)
        cursor = statement_cursor() if statement_cursor is not None else None
        self._close = cursor is None
        self.cursor = connection.cursor() if cursor is None else cursor

    def __enter__(self) -> Any:
        return self.cursor

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close Django's cursor; the kept one stays open."""
        if self._close:
            self.cursor.close()


# A parameter of a statement's SQL, or an escaped percent sign.
_PARAMETER_OR_PERCENT = re.compile(r"(%s|%%)")


def _with_constants_written_in(
    statement: str, params: Sequence[Any]
) -> tuple[str, list[Any]]:
    """The statement with its constant parameters (strings, integers and booleans:
    a state, a kind, a limit) written into its SQL as PostgreSQL literals, and the
    parameters left: the placeholders, and values of other types.

    After five runs PostgreSQL keeps a prepared statement's plan made without its
    parameters' values (a generic plan) only if it costs no more than planning
    anew; a parameter it cannot see it reckons an average value, and a rare
    constant so hidden (the few queued jobs of ``state = $2``) makes the generic
    plan look dear: a status poll was planned at every run (0.5 ms of its 0.75 ms
    in PostgreSQL). Written in, the constants are estimated as themselves, and a
    generic plan may read a partial index whose condition they meet (the live
    jobs' ``job_unfinished`` and ``job_queued``), which a parameter never proves.
    """
    from psycopg import sql as psycopg_sql

    pieces = _PARAMETER_OR_PERCENT.split(statement)
    remaining = iter(params)
    kept: list[Any] = []
    for index in range(1, len(pieces), 2):
        if pieces[index] == "%%":
            continue
        param = next(remaining)
        if isinstance(param, str | int):
            # No connection needed: UTF-8 and standard strings, PostgreSQL's
            # defaults. The SQL is still formatted by psycopg: its percent signs
            # are doubled.
            literal = psycopg_sql.Literal(param).as_string(None)
            pieces[index] = literal.replace("%", "%%")
        else:
            kept.append(param)
    return "".join(pieces), kept


class _PreparedStatement:
    """SQL compiled once, with `Placeholder` parameters filled in at each run.

    Compiling a query (resolving its expressions, writing its SQL) costs the
    Python of a status poll several times what running it does; the SQL of these
    statements never depends on the values they are run with, so it is written
    once, and PostgreSQL plans it once per connection (`_PreparingCursor`),
    after five runs planned for their values, its constants written into it
    (`_with_constants_written_in`).
    """

    def __init__(self, using: str, statement: str, params: Sequence[Any]) -> None:
        self.using = using
        if connections[using].vendor == "postgresql":
            statement, params = _with_constants_written_in(statement, params)
        self.sql = statement
        self.params = list(params)
        # A name may stand at several places (an owner's id in each subquery).
        self.placeholders: dict[str, tuple[list[int], models.Field[Any, Any]]] = {}
        for index, param in enumerate(self.params):
            if isinstance(param, Placeholder):
                indices, field = self.placeholders.setdefault(
                    param.name, ([], param.output_field)
                )
                if param.output_field is not field:
                    raise ValueError(
                        f"The placeholder {param.name!r} stands for two fields."
                    )
                indices.append(index)

    def _params(self, values: dict[str, Any]) -> list[Any] | None:
        """The statement's parameters, these values in place of the placeholders;
        None if an integer is beyond its column's range: no row can match it (a
        placeholder stands where a filter compares, and a filter finds nothing).

        A value its field cannot take (not a UUID for a UUID field) raises the
        field's ``ValidationError``, like a ``filter()`` would.
        """
        connection = connections[self.using]
        params = list(self.params)
        for name, (indices, field) in self.placeholders.items():
            value = field.to_python(values[name])
            low, high = connection.ops.integer_field_ranges.get(
                field.get_internal_type(), (None, None)
            )
            if isinstance(value, int) and (
                (low is not None and value < low) or (high is not None and value > high)
            ):
                return None
            value = field.get_db_prep_value(value, connection)
            for index in indices:
                params[index] = value
        return params

    def _execute(self, params: list[Any]) -> _PreparingCursor:
        """``with self._execute(params) as cursor``: a cursor that ran the
        statement with these parameters (`_params`)."""
        statement = _PreparingCursor(connections[self.using])
        try:
            statement.cursor.execute(self.sql, params)
        except BaseException:
            statement.close()
            raise
        return statement


class PreparedQuery(_PreparedStatement):
    """A ``values()`` queryset compiled to SQL once, then run with new values in
    place of its placeholders; rows come back as ``values()`` gives them."""

    def __init__(self, queryset: models.QuerySet[Any]) -> None:
        query = queryset.query
        if query.selected is None:  # a values() queryset selects its names
            raise ValueError("A PreparedQuery needs a values() queryset.")
        self.names = list(query.selected)
        compiler = query.get_compiler(queryset.db)
        super().__init__(queryset.db, *compiler.as_sql())
        columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
        # Bound to this thread's connection's operations, which read only the
        # backend's settings (the time zone): the same for every thread.
        self.converters: list[tuple[int, list[Callable[..., Any]], Any]] = [
            (index, converters, expression)
            for index, (converters, expression) in compiler.get_converters(
                columns
            ).items()
        ]

    def first(self, **values: Any) -> dict[str, Any] | None:
        """The first row for these values of the placeholders, or None."""
        params = self._params(values)
        if params is None:
            return None
        with self._execute(params) as cursor:
            row = cursor.fetchone()
        if row is None:
            return None
        connection = connections[self.using]
        row = list(row)
        for index, converters, expression in self.converters:
            row[index] = _convert(row[index], expression, converters, connection)
        return dict(zip(self.names, row, strict=True))


class PreparedUpdate(_PreparedStatement):
    """``queryset.update(**values)`` compiled once, as ``UPDATE … RETURNING
    returning``; the queryset's filters and the values may hold placeholders.

    `rows` gives the new values of the ``returning`` fields in the rows changed,
    one tuple per row, read by the statement that changed them (no second query
    can see another writer's update in between), converted as a query would (a
    JSON field comes back decoded). Beside field names, ``returning`` may hold
    expressions of the changed row (a ``Subquery`` that refers to it by ``OuterRef``):
    what another query would have read with it. Django's ``update()`` returns
    only a count; PostgreSQL and SQLite (3.35 and later) both support RETURNING.
    A filter that can match nothing (``pk__in=[]``) raises ``EmptyResultSet``.
    """

    def __init__(
        self,
        queryset: models.QuerySet[Any],
        returning: Sequence[str | BaseExpression] = (),
        **values: Any,
    ) -> None:
        query = queryset.query.chain(sql.UpdateQuery)
        assert isinstance(query, sql.UpdateQuery)
        query.add_update_values(values)
        connection = connections[queryset.db]
        expressions: list[BaseExpression] = []
        for item in returning:
            if isinstance(item, str):
                field = queryset.model._meta.get_field(item)
                assert isinstance(field, models.Field), f"{item} is not a column"
                expressions.append(_column(field))
            else:
                expressions.append(item.resolve_expression(query))
        compiler = query.get_compiler(queryset.db)
        statement, params = compiler.as_sql()
        self.columns = _returned_columns(expressions, connection)
        if returning:
            parts = []
            for expression in expressions:
                if isinstance(expression, Col):
                    # The changed row's own column, as RETURNING names it.
                    parts.append(
                        connection.ops.quote_name(str(expression.target.column))
                    )
                else:
                    part, part_params = compiler.compile(expression)
                    parts.append(part)
                    params = (*params, *part_params)
            statement = f"{statement} RETURNING {', '.join(parts)}"
        super().__init__(queryset.db, statement, params)

    def count(self, **values: Any) -> int:
        """Run it with these values of the placeholders: how many rows changed."""
        params = self._params(values)
        if params is None:
            return 0
        with (
            transaction.mark_for_rollback_on_error(using=self.using),
            self._execute(params) as cursor,
        ):
            return int(cursor.rowcount)

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """Run it with these values of the placeholders: the rows it returned."""
        params = self._params(values)
        if params is None:
            return []
        with (
            transaction.mark_for_rollback_on_error(using=self.using),
            self._execute(params) as cursor,
        ):
            rows = cursor.fetchall()
        return _converted_rows(rows, self.columns, connections[self.using])


def _column_names(
    fields: Sequence[models.Field[Any, Any]], connection: BaseDatabaseWrapper
) -> str:
    """The fields' columns, quoted, as an INSERT lists them."""
    return ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in fields)


def _typed_parameter(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper, *, array: bool
) -> str:
    """A parameter cast to the field's type (or an array of it). As Django, the
    type without its size (varchar, not varchar(50)): the column checks that on
    assignment."""
    type_name = cast(str, field.db_type(connection)).split("(")[0]
    return f"(%s)::{type_name}{'[]' if array else ''}"


def _by_column(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows of ``width`` values as one list a column (none when there are no rows)."""
    return [[row[index] for row in rows] for index in range(width)]


class PreparedInsert:
    """``bulk_create`` of ``model`` objects, its SQL compiled once per number of
    objects, then run with new ones.

    It does what ``bulk_create`` does (no save signals): each field's value goes
    through its ``pre_save`` and ``get_db_prep_save``, and the fields the
    database gives (the primary key, a field's ``db_default``) come back from the
    INSERT's RETURNING onto the objects. A field with a ``db_default`` is always
    the database's: an object with a value of its own for one is refused. The
    values are sent apart from the SQL where the connection prepares statements
    (`_PreparingCursor`). The SQL is Django's, but for several rows on
    PostgreSQL: one array per column (``UNNEST``), one statement whatever their
    number (`_unnest_statement`).
    """

    def __init__(self, model: type[models.Model]) -> None:
        opts = model._meta
        self.model = model
        self.using = router.db_for_write(model)
        # What save() writes of a new object whose primary key and database
        # defaults the database gives.
        self.fields = [
            field
            for field in opts.local_concrete_fields
            if field is not opts.auto_field
            and not field.generated
            and not field.has_db_default()
        ]
        self._database_defaults = [
            field for field in opts.local_concrete_fields if field.has_db_default()
        ]
        self.returning = list(opts.db_returning_fields)
        # Converters bound as `PreparedQuery`'s are (the same for every thread).
        self.columns = _returned_columns(
            [_column(field) for field in self.returning], connections[self.using]
        )
        # Number of rows (0: any number above 1, one array per column) -> SQL.
        self._statements: dict[int, str] = {}

    def _unnest_statement(self) -> str:
        """PostgreSQL's INSERT of any number of rows, each column one array.

        Django writes this form itself for fields without a placeholder of their
        own, and leaves out a BinaryField, whose placeholder may depend on its
        value elsewhere; on PostgreSQL it is a plain one. Its SQL is the same for
        any number of rows, and takes one parameter a column: psycopg parses a
        statement of more than 50 parameters anew on every run (0.5 ms for 16
        images of a gallery).
        """
        connection = connections[self.using]
        ops = connection.ops
        # Concrete fields: each has its column and type.
        columns = _column_names(self.fields, connection)
        arrays = ", ".join(
            _typed_parameter(field, connection, array=True) for field in self.fields
        )
        # PostgreSQL's operations have it; django-stubs type the base class's.
        returning, _ = ops.return_insert_columns(self.returning)  # type: ignore[attr-defined]
        return (
            f"INSERT INTO {ops.quote_name(self.model._meta.db_table)} ({columns}) "
            f"SELECT * FROM UNNEST({arrays}) {returning}"
        )

    def _statement(self, rows: int) -> tuple[str, bool]:
        """The SQL of ``rows`` objects, and whether it takes one array a column
        (several rows on PostgreSQL: `_unnest_statement`)."""
        key = 0 if rows > 1 and connections[self.using].vendor == "postgresql" else rows
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = (
                self._unnest_statement() if key == 0 else self._compile(key)
            )
        return statement, key == 0

    def _compile(self, rows: int) -> str:
        """Django's SQL of ``rows`` objects, one value a parameter (Django's own
        arrays are for several rows on PostgreSQL, `_unnest_statement`'s case)."""
        query = sql.InsertQuery(self.model)
        # Rows of NULLs read as they are (raw: not through pre_save): the SQL of
        # literal values depends on their number only.
        empty = {field.attname: None for field in self.fields}
        query.insert_values(
            self.fields, [self.model(**empty) for _ in range(rows)], raw=True
        )
        compiler = query.get_compiler(self.using)
        compiler.returning_fields = self.returning
        [(text, params)] = compiler.as_sql()
        assert len(params) == len(self.fields) * rows
        return str(text)

    def run(self, objs: Sequence[models.Model]) -> None:
        """Insert these new objects, and set what the database gave them."""
        if not objs:
            return
        values = self.values(objs)
        text, by_column = self._statement(len(objs))
        params = (
            _by_column(values, len(self.fields))
            if by_column
            else [value for row in values for value in row]
        )
        with (
            transaction.mark_for_rollback_on_error(using=self.using),
            _PreparingCursor(connections[self.using]) as cursor,
        ):
            cursor.execute(text, params)
            rows = cursor.fetchall()
        self.saved(objs, rows)

    def values(self, objs: Sequence[models.Model]) -> list[list[Any]]:
        """What the INSERT writes of each new object, ``fields``' values as the
        database takes them."""
        connection = connections[self.using]
        for obj in objs:
            for field in self._database_defaults:
                if not isinstance(getattr(obj, field.attname), DatabaseDefault):
                    raise ValueError(
                        f"{field.name} is the database's own (its db_default)."
                    )
        return [
            [
                field.get_db_prep_save(field.pre_save(obj, add=True), connection)
                for field in self.fields
            ]
            for obj in objs
        ]

    def saved(
        self, objs: Sequence[models.Model], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Set on each object what the INSERT returned of it (``returning``)."""
        connection = connections[self.using]
        for obj, row in zip(
            objs, _converted_rows(rows, self.columns, connection), strict=True
        ):
            for field, value in zip(self.returning, row, strict=True):
                setattr(obj, field.attname, value)
            obj._state.adding = False
            obj._state.db = self.using


class GuardedInsert:
    """A new object and its children (new objects of another model that point at
    it), written only if an UPDATE (the guard: a job's success, say) changes a
    row, all or nothing.

    On PostgreSQL one statement does it, as data-modifying ``WITH`` queries: the
    UPDATE; the parent's INSERT, whose one row is selected from the rows the
    UPDATE changed (none if it changed none); the children's, whose rows are
    selected from the parent's with its key. One round trip where a transaction
    of the three took five (BEGIN and COMMIT besides); its SQL is compiled once,
    PostgreSQL prepares it, and the children go one array a column, as
    `PreparedInsert` sends several rows. Elsewhere (SQLite) the three statements
    run in a transaction. Either way the parent gets what the database gave it
    (its primary key); the children's own keys are not read back.
    """

    def __init__(
        self,
        guard: PreparedUpdate,
        parent: PreparedInsert,
        children: PreparedInsert,
        link: str,
    ) -> None:
        if guard.columns:
            raise ValueError("The guard's UPDATE must return nothing of its own.")
        link_field = children.model._meta.get_field(link)
        if not (
            isinstance(link_field, models.ForeignKey)
            and link_field.related_model is parent.model
            and link_field.target_field in parent.returning
        ):
            raise ValueError(f"{link} is no link to what the parent's INSERT returns.")
        self.guard, self.parent, self.children = guard, parent, children
        self.link = link_field
        self.using = guard.using
        self._sql: str | None = None

    def _statement(self) -> str:
        """PostgreSQL's one statement: the guard's parameters, then the parent's
        values, then one array a column of the children's."""
        connection = connections[self.using]
        quote = connection.ops.quote_name
        parent, children = self.parent, self.children
        child_fields = [field for field in children.fields if field is not self.link]
        returned = _column_names(parent.returning, connection)
        target = quote(cast(str, self.link.target_field.column))
        values = ", ".join(
            _typed_parameter(field, connection, array=False) for field in parent.fields
        )
        arrays = ", ".join(
            _typed_parameter(field, connection, array=True) for field in child_fields
        )
        return (
            f'WITH "guard" AS ({self.guard.sql} RETURNING 1), '
            f'"parent" AS (INSERT INTO {quote(parent.model._meta.db_table)} '
            f"({_column_names(parent.fields, connection)}) SELECT {values} "
            f'FROM "guard" LIMIT 1 RETURNING {returned}), '
            f'"children" AS (INSERT INTO {quote(children.model._meta.db_table)} '
            f"({quote(self.link.column)}, {_column_names(child_fields, connection)}) "
            f'SELECT "parent".{target}, "rows".* FROM "parent", UNNEST({arrays}) '
            f'AS "rows") SELECT {returned} FROM "parent"'
        )

    def run(
        self,
        guard_values: dict[str, Any],
        parent: models.Model,
        children: Sequence[models.Model],
    ) -> bool:
        """Run the guard with these values of its placeholders; if it changed a
        row, insert the new ``parent`` and its new ``children`` (their link is set
        to it here) and return True; else write nothing and return False."""
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            with transaction.atomic(using=self.using):
                if not self.guard.count(**guard_values):
                    return False
                self.parent.run([parent])
                for child in children:
                    setattr(child, self.link.name, parent)
                self.children.run(children)
            return True
        guard_params = self.guard._params(guard_values)
        if guard_params is None:
            return False
        link = self.children.fields.index(self.link)
        arrays = _by_column(self.children.values(children), len(self.children.fields))
        del arrays[link]  # the parent's key, which the statement reads itself
        if self._sql is None:
            self._sql = self._statement()
        with (
            transaction.mark_for_rollback_on_error(using=self.using),
            _PreparingCursor(connection) as cursor,
        ):
            cursor.execute(
                self._sql, [*guard_params, *self.parent.values([parent])[0], *arrays]
            )
            row = cursor.fetchone()
        if row is None:
            return False
        self.parent.saved([parent], [row])
        return True
