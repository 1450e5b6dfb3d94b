"""`digest db copy`: a whole installation into another, empty database (SQLite to PostgreSQL, or back).

Every table the migrations create is copied row by row with every column, whatever the columns are (read
from the databases themselves, so a column added by a later migration comes along without a change here):
ids stay the same, so the links in mail already sent (they name readers and deliveries by id, signed with the
installation's secret, which is copied too) keep working. PostgreSQL's id sequences are moved past the
copied ids, and the copy ends by counting every table on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, func, insert, select, text

from digest.errors import DigestError

BATCH = 5000
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class CopiedTable:
    """One table's row count, the same on both sides once copied."""

    name: str
    rows: int


def _counts(engine: Engine, tables: list[Table]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one() for table in tables
        }


def _aware(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A row converter: SQLite hands timestamps back without their zone; the store writes them all in UTC, and
    a zoneless value given to PostgreSQL would be read in the server's zone instead."""
    stamps = [column.name for column in table.columns if isinstance(column.type, DateTime)]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        for name in stamps:
            value = row.get(name)
            if isinstance(value, datetime) and value.tzinfo is None:
                row[name] = value.replace(tzinfo=UTC)
        return row

    return convert


def copy_database(source: Engine, target: Engine, *, upgrade: Callable[[Engine], None]) -> list[CopiedTable]:
    """Copy every row of ``source`` into ``target``, which must be empty; ``upgrade`` creates its schema (the
    Alembic migrations). Returns each table's count; DigestError when the target holds data or a count
    differs after the copy."""
    wanted = MetaData()
    wanted.reflect(source)
    if VERSION_TABLE not in wanted.tables:
        raise DigestError(f"{source.url.render_as_string()} is not set up: run `digest init` there first")
    present = MetaData()
    present.reflect(target)
    busy = [
        name for name, rows in _counts(target, list(present.tables.values())).items() if rows and name != VERSION_TABLE
    ]
    if busy:
        raise DigestError(
            f"{target.url.render_as_string()} is not empty ({', '.join(sorted(busy))}): "
            "copy into a new, empty database (do not run `digest init` there first)"
        )
    upgrade(target)
    schema = MetaData()
    schema.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        source_version = reading.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        target_version = writing.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if sorted(source_version) != sorted(target_version):
            raise DigestError(
                f"the source database is at migration {', '.join(source_version)}, this digest at "
                f"{', '.join(target_version)}: run `digest init` on the source first"
            )
        for table in schema.sorted_tables:
            if table.name == VERSION_TABLE or table.name not in wanted.tables:
                continue
            origin = wanted.tables[table.name]
            missing = [column.name for column in origin.columns if column.name not in table.columns]
            if missing:
                raise DigestError(f"table {table.name}: columns {', '.join(missing)} have no place in the target")
            convert = _aware(table)
            rows = reading.execute(select(origin).execution_options(yield_per=BATCH)).mappings()
            while batch := rows.fetchmany(BATCH):
                writing.execute(insert(table), [convert(dict(row)) for row in batch])
        if target.dialect.name == "postgresql":
            _reset_sequences(writing, schema)
    copied = [table for table in schema.sorted_tables if table.name in wanted.tables]
    before, after = _counts(source, [wanted.tables[table.name] for table in copied]), _counts(target, copied)
    wrong = [f"{name}: {before[name]} -> {after.get(name)}" for name in before if before[name] != after.get(name)]
    if wrong:
        raise DigestError(f"the copy's counts differ ({'; '.join(wrong)})")
    return [CopiedTable(name, before[name]) for name in before if name != VERSION_TABLE]


def _reset_sequences(connection: Any, schema: MetaData) -> None:
    """Move each id sequence past the copied ids, so the next row gets a new id (ids are never reused)."""
    for table in schema.sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
            ).scalar()
            if sequence is None:
                continue
            highest = connection.execute(select(func.max(column))).scalar()
            if highest is not None:
                connection.execute(text("SELECT setval(:sequence, :value)"), {"sequence": sequence, "value": highest})
