"""The project as a user meets it: documented commands, packaging, migrations in step with the models."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel
from typer.main import get_command

from digest.cli import app
from digest.db import alembic_config, make_engine
from subscribers.addresses import email_key

ROOT = Path(__file__).parent.parent


def _commands(group: Any, prefix: str = "digest") -> list[tuple[str, Any]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(get_command(app))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path: str, command: Any) -> None:
    assert command.help and "Example:" in command.help, f"{path} --help lacks an example"
    example = command.help.split("Example:", 1)[1].strip()
    assert path.removeprefix("digest ") in example


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_is_in_the_readme(path: str, command: Any) -> None:
    assert f"`{path}`" in (ROOT / "README.md").read_text()


def test_readme_quickstart_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


def test_migrations_match_the_models(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrading_keys_existing_suppressions_as_subscribers_are_keyed(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    alembic_command.upgrade(config, "3c1f9a7e2b64")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO suppression (email_hash, email, reason, created_at) VALUES "
                "('a', 'Straße@Example.com', 'bounced', CURRENT_TIMESTAMP), "
                "('b', NULL, 'erased', CURRENT_TIMESTAMP)"
            )
        )
    alembic_command.upgrade(config, "head")
    with engine.connect() as connection:
        keys = dict(connection.execute(text("SELECT reason, email_key FROM suppression")).all())
    assert keys == {"bounced": email_key("Straße@Example.com"), "erased": None}
    alembic_command.downgrade(config, "3c1f9a7e2b64")
    alembic_command.upgrade(config, "head")
    engine.dispose()


def test_wheel_ships_templates_migrations_and_samples(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("digest-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "digest/_templates/email/digest.html.j2" in names
    assert "digest/samples/feed.xml" in names
    assert any(name.startswith("digest/migrations/versions/") for name in names)
    assert "subscribers/models.py" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    found = subprocess.run(
        [sys.executable, "-c", "from digest.render import templates_dir; print(templates_dir())"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(target / "digest" / "_templates" / "email")


def test_engine_for_plain_postgresql_url_uses_psycopg3() -> None:
    assert make_engine("postgresql://u@127.0.0.1/x").dialect.driver == "psycopg"


def test_upgrading_stores_each_editions_picked_sections(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    alembic_command.upgrade(config, "a9c3e5f7b1d4")
    picked = {"article": {"section": "Économie"}}
    selections = {
        "2025-11-26": json.dumps({"featured": picked, "headlines": [{"article": {"section": "Sport"}}, picked]}),
        "2025-11-27": json.dumps({"featured": None, "headlines": [{"article": {"section": None}}]}),
        "2025-11-28": "not json",
    }
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO mailing_list (slug, name, public, created_at) VALUES ('q', 'Q', true, CURRENT_TIMESTAMP)")
        )
        for day, raw in selections.items():
            connection.execute(
                text(
                    "INSERT INTO edition (list_id, date, kind, status, subject, preheader, selection_json, "
                    "choices_json, created_at) SELECT id, :day, 'daily', 'sent', 's', '', :raw, '{}', "
                    "CURRENT_TIMESTAMP FROM mailing_list"
                ),
                {"day": day, "raw": raw},
            )
    alembic_command.upgrade(config, "head")
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT date, picked_sections FROM edition")).all())
    engine.dispose()
    assert [json.loads(stored[key]) for key in sorted(stored)] == [["Sport", "Économie"], [], []]
