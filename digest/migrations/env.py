"""Alembic environment: migrates the engine handed over by digest.db (or DATABASE_URL for developers)."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import digest.models  # noqa: F401  (registers the pipeline's tables on the metadata)
import subscribers.models  # noqa: F401  (registers the subscriber tables on the metadata)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        from digest.db import make_engine

        engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///./digest.db"))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table by copy, drop and rename: with foreign keys on, the drop would
            # cascade to every row referencing it. The pragma only takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


run_migrations()
