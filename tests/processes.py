"""`digest` in a process of its own, as cron runs it, against the SMTP stand-in: for the tests that kill or
stop a real send (tests/test_cron_send.py, tests/test_send_crash.py, tests/test_local_hour.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.servers.smtp import SmtpStandIn


def digest(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`digest ARGS` in a process of its own, as cron runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def smtp_env(database_url: str, server: SmtpStandIn) -> dict[str, str]:
    """The settings of a send through ``server``."""
    return {
        "DATABASE_URL": database_url,
        "DIGEST_MAIL_BACKEND": "smtp",
        "DIGEST_SMTP_URL": server.url(),
        "DIGEST_SECRET_KEY": "test-secret",
        "DIGEST_BASE_URL": "https://news.example.com",
    }


def wait_for_messages(server: SmtpStandIn, count: int, run: subprocess.Popen[str]) -> None:
    """Wait until the server has received ``count`` messages while ``run`` still goes."""
    deadline = time.monotonic() + 60
    while len(server.handler.received) < count and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() is None, "the run must still be sending"
