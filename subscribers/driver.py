"""Statements run on the database driver's own cursor, inside the session's transaction.

The few statements that run for every batch of a send or every webhook request (a thousand rows each) skip
SQLAlchemy's statement layer: it expands and compiles a thousand-placeholder ``IN`` list on every call and
wraps every row it returns; its ORM's bulk statements (a webhook request's suppressions and unsubscriptions)
cost a millisecond each before the database sees them. Here many ids travel as one parameter (SQLite: a JSON
array read by ``json_each``; PostgreSQL: an array) and rows come back as plain tuples. Statements are written
with ``?`` placeholders for both databases.

In ``subscribers``, the lower layer, so that the store's statements for many readers use it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from digest.errors import DigestError
from subscribers.prepared import timestamp_to_driver


class Driver:
    """The driver's cursor of one session's connection: :meth:`execute` and the helpers its statements need."""

    def __init__(self, session: Session) -> None:
        self.session = session
        dialect = session.get_bind().dialect
        self.postgres = dialect.name == "postgresql"
        self._mark = "%s" if self.postgres else "?"
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        # Timestamps are stored exactly as SQLAlchemy stores them for these columns.
        self.timestamp: Callable[[datetime], Any] = timestamp_to_driver(dialect)

    def ids(self, ids: Iterable[int]) -> Any:
        """Many ids as one parameter of an :meth:`among` condition."""
        if self.postgres:
            # An array's text: psycopg adapts a list of a thousand ints at twice the cost.
            return "{" + ",".join(map(str, ids)) + "}"
        return json.dumps(list(ids))

    def keys(self, keys: Iterable[str]) -> Any:
        """Many strings as one parameter of an :meth:`among` condition of ``kind`` "text"."""
        return list(keys) if self.postgres else json.dumps(list(keys))

    def among(self, column: str, kind: str = "bigint") -> str:
        """``column`` is one of the values given as one parameter: ids (see :meth:`ids`), or strings (``kind``
        "text", see :meth:`keys`)."""
        if self.postgres:
            return f"{column} = ANY(?::{kind}[])"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def rows(self, columns: Sequence[tuple[str, str]]) -> str:
        """A subquery of the rows given as one parameter, a JSON array of arrays (``json.dumps`` of them), with the
        ``columns`` (name, PostgreSQL type) in that order. Rows so sent cost PostgreSQL a fifth of what one
        array per column does (psycopg adapts every timestamp of a list on its own)."""
        if self.postgres:
            picked = ", ".join(f"(row ->> {n})::{kind} AS {name}" for n, (name, kind) in enumerate(columns))
            return f"(SELECT {picked} FROM json_array_elements(?::json) AS row)"
        picked = ", ".join(f"value ->> {n} AS {name}" for n, (name, _) in enumerate(columns))
        return f"(SELECT {picked} FROM json_each(?))"

    def json_timestamp(self, moment: datetime) -> str:
        """``moment`` as a value of :meth:`rows`: SQLite's stored text, PostgreSQL's ISO 8601."""
        return moment.isoformat() if self.postgres else self.timestamp(moment)

    def execute(self, statement: str, parameters: Sequence[Any], *, many: bool = False) -> list[Any]:
        """Run ``statement`` on the session's connection; the rows it returns, if any."""
        cursor = self.session.connection().connection.cursor()
        try:
            if many:
                cursor.executemany(statement.replace("?", self._mark), parameters)
                return []
            cursor.execute(statement.replace("?", self._mark), parameters)
            return list(cursor.fetchall()) if cursor.description else []
        except self._dbapi_error as err:
            # Locked, gone, out of space: one line naming why; the rows stay as they were in the transaction,
            # which the caller rolls back.
            raise DigestError(f"database: {err}") from err
        finally:
            cursor.close()
