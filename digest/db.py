"""The database: engine creation, Alembic upgrades (`digest init`), the default list."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine, select

from digest.errors import ConfigError, DigestError
from subscribers.models import MailingList

if TYPE_CHECKING:
    from alembic.config import Config

    from digest.settings import Settings

# The name of the generated link-signing key in the stored_secret table.
SIGNING_KEY = "signing_key"

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout so readers and a sender coexist."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (the CLI prints them after its work)."""
    return Session(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that migrates ``engine`` (no alembic.ini needed)."""
    # Alembic is imported here, not at the top: only `digest init` and the tests migrate.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def init_database(engine: Engine, *, default_list: str, list_name: str | None = None) -> MailingList:
    """Upgrade the schema to the newest migration and make sure the default list exists. Idempotent."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), "head")
    except OperationalError as err:
        raise ConfigError(f"DATABASE_URL: cannot open the database ({err.orig})") from err
    with open_session(engine) as session:
        found = session.exec(select(MailingList).where(MailingList.slug == default_list)).first()
        if found:
            return found
        mailing_list = MailingList(slug=default_list, name=list_name or default_list.capitalize())
        session.add(mailing_list)
        session.commit()
        session.refresh(mailing_list)
        return mailing_list


def check_initialised(engine: Engine) -> None:
    """Raise a clear error when `digest init` was never run on this database."""
    try:
        tables = set(inspect(engine).get_table_names())
    except SQLAlchemyError as err:
        raise ConfigError(f"DATABASE_URL: cannot open the database ({err})") from err
    if "delivery" not in tables:
        raise DigestError(f"the database at {engine.url.render_as_string()} is not set up: run `digest init`")


def ensure_stored_secret(engine: Engine) -> bool:
    """Generate and store the random signing key unless one is stored; True when it was generated now."""
    from digest.models import StoredSecret

    with open_session(engine) as session:
        if session.get(StoredSecret, SIGNING_KEY) is not None:
            return False
        session.add(StoredSecret(name=SIGNING_KEY, value=secrets.token_urlsafe(32)))
        session.commit()
        return True


def with_stored_secret(settings: Settings, engine: Engine) -> Settings:
    """``settings`` with the stored signing key when DIGEST_SECRET_KEY is unset (unchanged when none is stored)."""
    if settings.secret_key:
        return settings
    from digest.models import StoredSecret

    try:
        with open_session(engine) as session:
            stored = session.get(StoredSecret, SIGNING_KEY)
    except SQLAlchemyError:
        return settings  # not initialised yet: signing_keys() says to run `digest init`
    return settings.model_copy(update={"secret_key": stored.value}) if stored else settings
