"""Sending at scale: `digest send` through the sendgrid backend to a loopback stand-in, against a bare floor.

Each run gets a fresh database holding N confirmed readers and the sample day's edition, then runs the real
command (`digest send --batch-size 1000`) as a child process, so the time is what a cron run takes and the
peak RSS is that process's own. The floor posts the same number of 1000-reader requests, shaped like ours,
with the official client and nothing else: no database, no signing, no bookkeeping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sendgrid import SendGridAPIClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.report import Figure
from bench.standin import API_KEY
from digest.db import init_database, make_engine, open_session
from digest.edition import build_edition
from digest.settings import Settings
from tests.golden import SAMPLE_DATE

ROOT = Path(__file__).parent.parent


# What a request to the real SendGrid takes from a server in another region (seen: 80-250 ms for 1000
# personalizations); the latency figures show what --workers is for.
LATENCY = 0.1
# Sends (and floors) per figure below 1M readers: the median of three moves far less than one run on a shared VM.
REPEAT = 3


@contextlib.contextmanager
def standin_process(delay: float = 0.0) -> Iterator[str]:
    """The SendGrid stand-in in its own process, answering after ``delay`` seconds; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standin", str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        yield url
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
        if "refused 0" not in errors:
            print(f"stand-in: {errors.strip()}", file=sys.stderr)


def populate(database_url: str, readers: int) -> Settings:
    """A fresh database with ``readers`` confirmed readers on the default list, 1% as many suppressed addresses
    (none of them a reader's), and the sample day built."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, secret_key="bench-key", auto_approve=True, edition_window="calendar"
    )
    engine = make_engine(database_url)
    mailing_list = init_database(engine, default_list=settings.list_slug)
    now = datetime.now(UTC)
    languages = ("fr", "fr", "fr", "en", "ar")
    with engine.begin() as connection:
        for start in range(0, readers, 50_000):
            chunk = range(start, min(start + 50_000, readers))
            connection.execute(
                text(
                    "INSERT INTO subscriber (id, email, email_key, name, language, status, created_at, token_secret) "
                    "VALUES (:id, :email, :email, :name, :language, 'active', :now, :secret)"
                ),
                [
                    {
                        "id": i + 1,
                        "email": f"reader{i}@example{i % 97}.ma",
                        "name": f"Reader {i}",
                        "language": languages[i % 5],
                        "now": now,
                        "secret": f"bench-secret-{i}",
                    }
                    for i in chunk
                ],
            )
            connection.execute(
                text(
                    "INSERT INTO subscription (subscriber_id, list_id, status, frequency, format, confirmed_at, "
                    "created_at, updated_at) VALUES (:id, :list, 'active', 'daily', 'html', :now, :now, :now)"
                ),
                [{"id": i + 1, "list": mailing_list.id, "now": now} for i in chunk],
            )
        # A list this size has a history of bounces and complaints: 1% of it suppressed (other addresses).
        connection.execute(
            text(
                "INSERT INTO suppression (email_hash, email, email_key, reason, created_at) "
                "VALUES (:hash, :email, :email, 'bounced', :now)"
            ),
            [{"hash": f"{i:064x}", "email": f"gone{i}@example.org", "now": now} for i in range(readers // 100)],
        )
    if engine.dialect.name == "postgresql":
        # A real list's tables were analyzed long ago by autovacuum; freshly filled ones have no statistics.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE subscriber"))
            connection.execute(text("ANALYZE subscription"))
            connection.execute(text("ANALYZE suppression"))
    with open_session(engine) as session:
        build_edition(session=session, settings=settings, day=SAMPLE_DATE)
    engine.dispose()
    return settings


@dataclass(frozen=True)
class SendRun:
    """One `digest send` child process as the bench saw it."""

    #: Wall time of the process, start-up (imports, enqueue) included.
    wall_seconds: float
    #: The sending phase as `digest send` reports it ("sending took ... s"): what per-reader cost is judged on.
    send_seconds: float
    peak_rss_mb: float
    summary: str


def run_send(settings: Settings, standin_url: str, workers: int = 1) -> SendRun:
    """Run `digest send` as a child process and read its timing, its peak RSS and its summary."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DIGEST_MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": API_KEY,
        "DIGEST_SENDGRID_HOST": standin_url,
        "DIGEST_SECRET_KEY": "bench-key",
        "DIGEST_BASE_URL": "https://news.example.com",
    }
    command = [
        sys.executable,
        "-m",
        "digest",
        "send",
        "--date",
        SAMPLE_DATE.isoformat(),
        "--batch-size",
        "1000",
        "--workers",
        str(workers),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peaks: dict[int, int] = {}
    while process.poll() is None:
        _read_peaks(process.pid, peaks)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    assert process.stdout is not None
    output = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"digest send exited {process.returncode}: {output}")
    took = re.search(r"^sending took ([\d.]+) s", output, re.MULTILINE)
    if took is None:
        raise RuntimeError(f"digest send printed no timing: {output}")
    lines = output.strip().splitlines()
    return SendRun(wall, float(took.group(1)), max(peaks.values(), default=0) / 1024, lines[0] if lines else "")


def _read_peaks(pid: int, peaks: dict[int, int]) -> None:
    """Record the peak RSS (VmHWM, kB) of ``pid`` and its descendants (the workers) so far.

    Read from /proc while they run: the rusage that wait4 returns counts the RSS of this bench process,
    copied at fork, in the child's peak.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    if found:
        peaks[pid] = max(peaks.get(pid, 0), int(found.group(1)))
    for child in children:
        _read_peaks(int(child), peaks)


def median_runs(settings: Settings, standin_url: str, workers: int = 1, repeat: int = REPEAT) -> tuple[SendRun, float]:
    """``repeat`` sends of the same edition to the same readers, each followed by the floor: the send of median
    time (with the largest peak RSS) and the median floor. Deliveries are deleted between sends."""
    runs, floors = [], []
    html, text_part = _sample_content(settings.database_url)
    # Every reader `populate` makes is eligible: the floor posts to as many.
    readers = _subscribers(settings.database_url)
    for attempt in range(repeat):
        if attempt:
            _forget_deliveries(settings.database_url)
        runs.append(run_send(settings, standin_url, workers=workers))
        floors.append(floor_seconds(readers, standin_url, html, text_part))
    median = sorted(runs, key=lambda run: run.send_seconds)[len(runs) // 2]
    peak = max(run.peak_rss_mb for run in runs)
    return dataclasses.replace(median, peak_rss_mb=peak), statistics.median(floors)


def _forget_deliveries(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM delivery"))
    if engine.dialect.name == "postgresql":
        # The deleted rows would otherwise be scanned as dead entries by the next send's claims.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE delivery"))
    engine.dispose()


def _subscribers(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one())
    engine.dispose()
    return count


def floor_seconds(readers: int, standin_url: str, html: str, text_part: str) -> float:
    """The same requests built and posted by a bare script with the official client."""
    client = SendGridAPIClient(api_key=API_KEY, host=standin_url)
    start = time.perf_counter()
    for first in range(0, readers, 1000):
        personalizations = [
            {
                "to": [{"email": f"reader{i}@example{i % 97}.ma", "name": f"Reader {i}"}],
                "substitutions": {
                    "%%unsubscribe_url%%": f"https://news.example.com/u/{i}.1.{'x' * 43}",
                    "%%preferences_url%%": f"https://news.example.com/p/{i}.1.{'x' * 43}",
                },
                "headers": {
                    "List-Unsubscribe": f"<https://news.example.com/u/{i}.1.{'x' * 43}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
                "custom_args": {"edition_id": "1", "delivery_id": str(i)},
            }
            for i in range(first, min(first + 1000, readers))
        ]
        payload = {
            "personalizations": personalizations,
            "from": {"email": "digest@example.com", "name": "Digest"},
            "subject": "Le Quotidien : bench",
            "content": [{"type": "text/plain", "value": text_part}, {"type": "text/html", "value": html}],
            "categories": ["quotidien", SAMPLE_DATE.isoformat()],
        }
        client.client.mail.send.post(request_body=payload)
    return time.perf_counter() - start


def _sample_content(database_url: str) -> tuple[str, str]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        html, text_part = connection.execute(text("SELECT html, text FROM edition_variant LIMIT 1")).one()
    engine.dispose()
    return html, text_part


def bench_send(sizes: tuple[int, ...] = (10_000, 100_000), postgres_url: str | None = None) -> list[Figure]:
    """Send to each size on SQLite (and on PostgreSQL with 1 and 4 workers at 100k when a URL is given)."""
    figures = []
    floors: dict[int, float] = {}
    with standin_process() as url:
        for readers in sizes:
            with tempfile.TemporaryDirectory() as folder:
                settings = populate(f"sqlite:///{Path(folder) / 'bench.db'}", readers)
                run, floor = median_runs(settings, url, repeat=REPEAT if readers < 1_000_000 else 1)
                floors[readers] = floor
                figures.append(_figure(f"send sendgrid SQLite {readers:,}", readers, run, floor))
        if postgres_url:
            readers = 100_000
            for workers in (1, 4):
                with fresh_schema(postgres_url) as schema_url:
                    settings = populate(schema_url, readers)
                    run, floor = median_runs(settings, url, workers=workers)
                name = f"send sendgrid PostgreSQL {readers:,} x{workers}"
                figures.append(_figure(name, readers, run, floors.get(readers, floor)))
            if 1_000_000 in sizes:
                readers = 1_000_000
                with fresh_schema(postgres_url) as schema_url:
                    settings = populate(schema_url, readers)
                    run, floor = median_runs(settings, url, repeat=1)
                name = f"send sendgrid PostgreSQL {readers:,} x1"
                figures.append(_figure(name, readers, run, floors.get(readers, floor)))
    if postgres_url:
        figures += bench_latency(postgres_url)
    return figures


def bench_latency(postgres_url: str, readers: int = 100_000) -> list[Figure]:
    """The PostgreSQL send with 1 and 4 workers to a stand-in that answers after LATENCY seconds, against a
    floor posting the same requests one after another: one sender waits for every answer, workers overlap."""
    figures = []
    with standin_process(LATENCY) as url:
        floor = None
        for workers in (1, 4):
            with fresh_schema(postgres_url) as schema_url:
                settings = populate(schema_url, readers)
                run = run_send(settings, url, workers=workers)
                if floor is None:
                    floor = floor_seconds(readers, url, *_sample_content(schema_url))
            name = f"send PostgreSQL {readers:,} x{workers}, {LATENCY * 1000:.0f} ms API"
            figures.append(_figure(name, readers, run, floor))
    return figures


def _figure(name: str, readers: int, run: SendRun, floor: float) -> Figure:
    """The sending phase against the floor; the wall time with start-up beside it."""
    note = (
        f"wall {run.wall_seconds:.2f} s with start-up ({readers / run.wall_seconds:,.0f}/s, "
        f"{run.wall_seconds / floor:.2f}x floor)"
    )
    return Figure(name, readers, "readers", run.send_seconds, floor, run.peak_rss_mb, note)


def postgres_answers(postgres_url: str) -> bool:
    """Whether a PostgreSQL server answers at ``postgres_url``."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        return False
    finally:
        engine.dispose()
    return True


@contextlib.contextmanager
def fresh_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one run, dropped afterwards; yields a URL whose search_path is that schema."""
    schema = f"digest_bench_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(postgres_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
