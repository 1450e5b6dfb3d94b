"""Settings: read from the environment, bad values stop with one line naming the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.settings import Settings, load_settings


def _digest(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DIGEST_MAIL_BACKEND": "pigeon"}, "DIGEST_MAIL_BACKEND"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DIGEST_TIMEZONE": "Mars/Olympus"}, "DIGEST_TIMEZONE"),
        ({"DIGEST_MAIL_BACKEND": "smtp", "DIGEST_SMTP_URL": "smtp://127.0.0.1:1"}, "DIGEST_BASE_URL"),
        (
            {"DIGEST_MAIL_BACKEND": "sendgrid", "SENDGRID_API_KEY": "SG.x", "DIGEST_SECRET_KEY": "k"},
            "DIGEST_BASE_URL",
        ),
        ({"DIGEST_BASE_URL": "https://actualités.ma"}, "DIGEST_BASE_URL"),
        ({"DIGEST_BASE_URL": "https://news.example.com/" + "x" * 600}, "DIGEST_BASE_URL"),
        ({"DIGEST_SECTION_WEIGHTS": "Politique=2"}, "DIGEST_SECTION_WEIGHTS"),
        ({"DIGEST_SOURCE_WEIGHTS": "Le Monde:lots"}, "DIGEST_SOURCE_WEIGHTS"),
        ({"DIGEST_HEADLINE_ORDER": "random"}, "DIGEST_HEADLINE_ORDER"),
    ],
)
def test_bad_setting_is_one_clear_line(env: dict[str, str], named: str, tmp_path: Path) -> None:
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/d.db"}
    assert _digest(["init"], base, tmp_path).returncode == 0
    result = _digest(["send", "--date", "2025-11-27"], {**base, **env}, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_settings_read_env_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("DIGEST_LIST=hebdo\nDIGEST_SOURCES=a.xml, https://x.example/rss\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_LANGUAGE", "ar")
    settings = load_settings()
    assert settings.list_slug == "hebdo"
    assert settings.sources == ["a.xml", "https://x.example/rss"]
    assert settings.language == "ar"


def test_weights_and_sections_are_read_from_their_lists() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DIGEST_SECTION_WEIGHTS="Politique:2, Sport:0.7",
        DIGEST_SOURCE_WEIGHTS="https://x.example/rss:1.5",
        DIGEST_SECTIONS="Politique,Sport",
    )
    assert settings.section_weights == {"Politique": 2.0, "Sport": 0.7}
    assert settings.source_weights == {"https://x.example/rss": 1.5}  # the last colon splits
    assert settings.sections == ["Politique", "Sport"] and settings.headline_order == "importance"


def test_secret_key_rotation_lists_newest_first() -> None:
    settings = Settings(_env_file=None, secret_key="new, old")  # type: ignore[call-arg]
    assert settings.signing_keys() == ["new", "old"]


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parent.parent / ".env.example").read_text()
    for field in Settings.model_fields.values():
        assert f"{field.validation_alias}=" in example, field.validation_alias


def test_readme_names_every_setting() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for field in Settings.model_fields.values():
        assert f"`{field.validation_alias}`" in readme, field.validation_alias


def test_missing_secret_key_with_sendgrid_is_a_config_error() -> None:
    settings = Settings(_env_file=None, mail_backend="sendgrid")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="DIGEST_SECRET_KEY"):
        settings.signing_keys()
