"""Core statements compiled once per database and run on the driver's own cursor.

For the few statements every reader's page runs (the preference page, one-click unsubscribe), SQLAlchemy's
execution layer costs several times the query itself: a cache key built from the whole statement on every
call, an execution context, a wrapped row. A :class:`Prepared` statement is compiled once per dialect; each
call hands the driver the SQL string and the parameters, converted as SQLAlchemy would convert them (dates
and times on SQLite), and returns plain tuples whose values are converted back the same way; the driver's
errors are raised as SQLAlchemy's. It runs in the connection's transaction, as any statement on it does.

Also here, what every statement written for one database shares: the database's own INSERT (with ``ON
CONFLICT``) and a timestamp as SQLAlchemy hands it to the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    compiled: SQLCompiler
    binds: dict[str, Any]
    results: tuple[Callable[[Any], Any] | None, ...]
    # Known when compiled: asking the cursor (its description) costs psycopg an object per column per call.
    returns_rows: bool

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        values = self.compiled.construct_params(parameters)
        for name, process in self.binds.items():
            if values.get(name) is not None:
                values[name] = process(values[name])
        if self.compiled.positiontup is not None:
            return tuple(values[name] for name in self.compiled.positiontup)
        return values

    def rows(self, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(row) for row in rows]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(self.results, row, strict=True)
            )
            for row in rows
        ]


class Prepared:
    """``statement`` (a SELECT, or an INSERT, UPDATE or DELETE, with RETURNING or not), run on the driver."""

    def __init__(self, statement: Select[*tuple[Any, ...]] | UpdateBase) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        binds: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds[name] = process
        columns = (
            self.statement.selected_columns if isinstance(self.statement, Select) else self.statement.exported_columns
        )
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        returns_rows = isinstance(self.statement, Select) or bool(compiled.effective_returning)
        found = self._by_dialect[dialect.name] = _Compiled(compiled.string, compiled, binds, results, returns_rows)
        return found

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement on ``connection`` with ``parameters`` (by bind name); the rows it returns."""
        compiled = self._by_dialect.get(connection.dialect.name) or self._compile(connection.dialect)
        arguments = compiled.arguments(parameters)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            return compiled.rows(cursor.fetchall()) if compiled.returns_rows else []
        except connection.dialect.loaded_dbapi.Error as err:
            # The exception SQLAlchemy raises for the same failure (OperationalError, IntegrityError...), so that
            # callers catch one family whichever way a statement ran.
            raise DBAPIError.instance(compiled.sql, arguments, err, connection.dialect.loaded_dbapi.Error) from err
        finally:
            cursor.close()


def database_insert(dialect: Dialect, model: Any) -> Any:
    """The INSERT of ``dialect``'s database for ``model``: SQLite's or PostgreSQL's, which have ``ON CONFLICT``."""
    # Imported here: PostgreSQL's dialect is a twentieth of a second of every command's start on SQLite.
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(model)


def timestamp_to_driver(dialect: Dialect) -> Callable[[datetime], Any]:
    """How SQLAlchemy hands a timezone-aware DateTime value to ``dialect``'s driver (on SQLite its text; never
    the sqlite3 module's own adapter, which appends "+00:00" and is deprecated since Python 3.12)."""
    process = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)
