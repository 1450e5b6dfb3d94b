"""No public signing key: `digest init` generates one per database, every entry point uses it, and `digest serve`
refuses a guessable DIGEST_SECRET_KEY."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from digest.db import SIGNING_KEY, make_engine, open_session
from digest.errors import ConfigError
from digest.models import StoredSecret
from digest.settings import Settings
from tests.subscribers_helpers import client, link_in, local, read_messages


def _stored_key(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with open_session(engine) as session:
            found = session.exec(select(StoredSecret).where(StoredSecret.name == SIGNING_KEY)).first()
            return found.value if found else None
    finally:
        engine.dispose()


def test_there_is_no_built_in_key() -> None:
    for backend in ("outbox", "console", "smtp", "sendgrid"):
        with pytest.raises(ConfigError, match="digest init"):
            Settings(_env_file=None, mail_backend=backend).signing_keys()  # type: ignore[call-arg]


def test_init_generates_one_random_key_per_database(run_cli, make_settings, tmp_path) -> None:
    without_key = {"DIGEST_SECRET_KEY": ""}
    first = run_cli("init", env=without_key)
    assert first.exit_code == 0 and "generated a random link-signing key" in first.output
    url = make_settings().database_url
    key = _stored_key(url)
    assert key and len(key) >= 40
    assert run_cli("init", env=without_key).exit_code == 0
    assert _stored_key(url) == key, "init again keeps the key (links already sent stay valid)"
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert run_cli("init", env={**without_key, "DATABASE_URL": other}).exit_code == 0
    assert _stored_key(other) not in (None, key)


def test_the_cli_and_the_web_app_share_the_stored_key(run_cli, make_settings, engine: Engine) -> None:
    without_key = {"DIGEST_SECRET_KEY": ""}
    assert run_cli("init", env=without_key).exit_code == 0
    added = run_cli("subscribers", "add", "amina@example.com", env=without_key)
    assert added.exit_code == 0, added.output
    settings = make_settings(secret_key=None)
    [message] = read_messages(settings.outbox_dir)
    confirm = link_in(message, "c", settings.base_url)
    with client(settings, engine) as http:
        assert http.get(local(confirm, settings)).status_code == 200
    with client(make_settings(secret_key="another-long-random-key-1234"), engine) as http:
        assert http.get(local(confirm, settings)).status_code == 404


@pytest.mark.parametrize("key", ["digest-demo-key-not-secret", "short", "a-good-long-random-key-x9,secret"])
def test_serve_refuses_a_guessable_key(run_cli, engine: Engine, key: str) -> None:
    result: Any = run_cli("serve", "--port", "1", env={"DIGEST_SECRET_KEY": key})
    assert result.exit_code == 1
    assert "DIGEST_SECRET_KEY is guessable" in result.output
