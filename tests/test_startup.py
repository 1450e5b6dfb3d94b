"""What a command imports: `digest --help` and the commands that do not serve pages start without the web
stack, the CSS inliner, the article extractor or Alembic (issue 19: the CLI must start fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.seed import DAY, add_readers, seed_edition

HEAVY = ("fastapi", "starlette", "uvicorn", "premailer", "trafilatura", "alembic")

# Runs the command line in a fresh interpreter and prints which heavy modules it ended up importing.
PROBE = """
import json, sys
from digest.cli import app
try:
    app(args=sys.argv[1:], prog_name="digest")
except SystemExit:
    pass
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def _imported(*args: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("send", "--help"), ("subscribers", "import", "--help")])
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    assert _imported(*args) == []


def test_edition_and_delivery_modules_leave_the_web_stack_and_alembic_alone() -> None:
    # What `digest build` and `digest send` import before they work: none of the web stack, Alembic (only
    # `digest init` migrates), trafilatura (only article pages are extracted) or premailer (only a render).
    probe = (
        "import json, sys\n"
        "import digest.edition, digest.delivery, digest.db, subscribers.importer\n"
        f"print(json.dumps(sorted(n for n in {HEAVY!r} if n in sys.modules)))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout) == []


def test_the_console_entry_point_leaves_what_it_loaded_out_of_the_shutdown_collections() -> None:
    # The interpreter's shutdown would otherwise walk every object a command loaded with the cyclic collector
    # (0.15-0.2 s after a command that loaded SQLAlchemy): main() freezes them once the command is done.
    probe = (
        "import gc, sys\n"
        "from digest.cli import main\n"
        "sys.argv = ['digest', 'send', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(gc.get_freeze_count())"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(completed.stdout.strip().splitlines()[-1]) > 10_000


# What `digest send` of a stored edition should not load: rendering (Jinja2, Babel), the HTML parser, the
# selection. Only a build, a rebuild or a confirmation mail to render needs them.
BUILD_ONLY = ("jinja2", "babel", "lxml", "digest.render", "digest.selection")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sending_a_stored_edition_loads_no_rendering_or_selection(
    engine: Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    add_readers(engine, 3)
    seed_edition(engine)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **cli_env, "DIGEST_MAIL_BACKEND": "outbox"}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=BUILD_ONLY), "send", "--date", DAY.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    assert "sent 3" in completed.stdout, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
