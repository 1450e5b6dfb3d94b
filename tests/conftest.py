"""Shared fixtures: settings built per test, databases on SQLite and on PostgreSQL, the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from digest.db import init_database, make_engine
from digest.settings import Settings

POSTGRES_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLE_DAY = "2025-11-27"


def _postgres_admin_engine() -> Engine | None:
    engine = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception:
        engine.dispose()
        return None
    return engine


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A URL whose search_path is a schema of this test run only, dropped at the end."""
    admin = _postgres_admin_engine()
    if admin is None:
        pytest.skip(f"PostgreSQL does not answer at {make_url(POSTGRES_URL).render_as_string()}")
    schema = f"digest_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema emptied before each test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        schema = connection.execute(text("select current_schema()")).scalar_one()
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    yield url


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    """Build settings for a test: no `.env`, the test's database and outbox, any override."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "outbox_dir": tmp_path / "outbox",
            "secret_key": "test-secret",
            "base_url": "https://news.example.com",
            # The sample feed holds one past day: its editions replay that calendar day.
            "edition_window": "calendar",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings."""
    return make_settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An initialised database (migrated, default list created)."""
    engine = make_engine(settings.database_url)
    init_database(engine, default_list=settings.list_slug)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for CLI runs that matches ``settings``."""
    return {
        "DATABASE_URL": settings.database_url,
        "DIGEST_OUTBOX_DIR": str(settings.outbox_dir),
        "DIGEST_SECRET_KEY": "test-secret",
        "DIGEST_BASE_URL": settings.base_url,
        "DIGEST_EDITION_WINDOW": settings.edition_window,
    }


@pytest.fixture
def run_cli(cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run `digest ARGS...` in-process with the test's environment; returns the click Result."""
    from digest.cli import app

    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout is read
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        return runner.invoke(app, list(args), env={**cli_env, **(env or {})}, catch_exceptions=False)

    return run


@pytest.fixture
def sendgrid_server() -> Iterator[Any]:
    """A stand-in SendGrid on loopback that validates every request (tests/servers/sendgrid.py)."""
    from tests.servers.sendgrid import SendGridStandIn

    with SendGridStandIn() as server:
        yield server


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on loopback, plain, without AUTH (tests/servers/smtp.py)."""
    from tests.servers.smtp import SmtpStandIn

    with SmtpStandIn(tmp_path) as server:
        yield server
