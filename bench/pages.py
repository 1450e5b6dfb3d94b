"""The readers' pages under load: one-click unsubscribe POSTs and preference-page GETs from 4 concurrent
clients (keep-alive HTTP/1.1 connections on asyncio streams, a load generator light enough not to be the
bottleneck) on loopback against one uvicorn worker, with latency percentiles.
Bounded: ``requests`` of each, and at most ``MAX_SECONDS`` per phase.

Each POST unsubscribes a different reader, and is committed before its answer (the bench checks the count
of unsubscribed subscriptions afterwards); each GET shows a different reader's preference page.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import inspect, text

from bench.report import Figure
from bench.send import fresh_schema, populate
from bench.webhook import WebProcess, web_process
from digest.db import make_engine
from digest.links import Links

MAX_SECONDS = 60.0
CLIENTS = 4
# Issue 19's targets on one worker with CLIENTS clients: requests/s, and the 99th percentile latency.
TARGETS = {"GET": 1_000, "POST": 500}
TARGET_P99_MS = 50
BASE_URL = "https://news.example.com"


async def _load(base: str, method: str, paths: list[str], body: bytes | None) -> tuple[float, list[float]]:
    """Send one request per path from CLIENTS concurrent keep-alive connections; (seconds, each request's
    latency). Any answer but 200, or a connection the server closed, stops the run."""
    queue = list(reversed(paths))
    latencies: list[float] = []
    host, _, port = base.removeprefix("http://").partition(":")
    # The app answers only for its own host (DIGEST_BASE_URL's), as behind a proxy.
    head = f"Host: {BASE_URL.partition('://')[2]}\r\nUser-Agent: bench\r\n"
    if body is not None:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    start = time.perf_counter()

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue and time.perf_counter() - start < MAX_SECONDS:
                path = queue.pop()
                sent = time.perf_counter()
                writer.write(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + (body or b""))
                status = await _answer(reader)
                latencies.append(time.perf_counter() - sent)
                if status != 200:
                    raise RuntimeError(f"{method} {path}: {status}")
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(CLIENTS))), MAX_SECONDS + 30)
    return time.perf_counter() - start, latencies


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer (its body sized by Content-Length, as the app's are); its status."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding":
            raise RuntimeError("a chunked answer: this load generator reads Content-Length bodies only")
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


@dataclass(frozen=True, slots=True)
class Run:
    """One phase of load: its wall time, each request's latency, the server's CPU time."""

    seconds: float
    latencies: list[float]
    cpu: float

    def figure(self, name: str, method: str, floor: Run | None = None) -> Figure:
        """This run as a printed figure, beside the targets (and the floor, when it ran as many requests)."""
        cuts = statistics.quantiles(self.latencies, n=100)
        note = (
            f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms, {CLIENTS} clients, "
            f"server CPU {self.cpu / len(self.latencies) * 1e6:.0f} µs/request; "
            f"target >= {TARGETS[method]:,}/s, p99 < {TARGET_P99_MS} ms"
        )
        same = floor is not None and len(floor.latencies) == len(self.latencies)
        return Figure(
            name, len(self.latencies), "requests", self.seconds, floor.seconds if same and floor else None, note=note
        )


def _phases(server: WebProcess, gets: list[str], posts: list[str]) -> tuple[Run, Run]:
    """GETs then one-click POSTs against ``server``, after a warm-up of 20 GETs (templates compiled,
    connections open); the GETs timed are ``gets[20:]``."""
    asyncio.run(_load(server.base, "GET", gets[:20], None))
    runs = []
    for method, paths, body in (("GET", gets[20:], None), ("POST", posts, b"List-Unsubscribe=One-Click")):
        cpu = server.cpu_seconds()
        seconds, latencies = asyncio.run(_load(server.base, method, paths, body))
        runs.append(Run(seconds, latencies, server.cpu_seconds() - cpu))
    return runs[0], runs[1]


# A list's preference page offers the sections of its last 14 editions: a list in use has that many.
EDITIONS = 14


def add_past_editions(database_url: str, count: int) -> None:
    """``count`` copies of the built edition on the days before it, every column as it is but the id and the
    date (the preference page reads its last editions)."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        columns = [c["name"] for c in inspect(connection).get_columns("edition") if c["name"] not in ("id", "date")]
        names = ", ".join(columns)
        source = connection.execute(text("SELECT id, date FROM edition ORDER BY id LIMIT 1")).one()
        day = date.fromisoformat(str(source.date))  # SQLite gives the text it stores
        for back in range(1, count + 1):
            connection.execute(
                text(f"INSERT INTO edition (date, {names}) SELECT :day, {names} FROM edition WHERE id = :id"),
                {"day": day - timedelta(days=back), "id": source.id},
            )
    engine.dispose()


def run_pages(database_url: str, database: str, readers: int, requests: int, floor: tuple[Run, Run]) -> list[Figure]:
    """Preference GETs then one-click POSTs, each to a different reader, on a list with EDITIONS editions."""
    settings = populate(database_url, readers)
    add_past_editions(database_url, EDITIONS - 1)
    links = Links(BASE_URL, settings.signing_keys())
    engine = make_engine(database_url)
    with engine.connect() as connection:
        list_id = int(connection.execute(text("SELECT id FROM mailing_list LIMIT 1")).scalar_one())
        # Each reader's links are signed over the reader's own secret.
        secrets = dict(
            connection.execute(
                text("SELECT id, token_secret FROM subscriber WHERE id <= :last"), {"last": requests}
            ).all()
        )
    gets = [f"/p/{links.token('preferences', r, list_id, secrets[r])}" for r in range(1, requests + 1)]
    posts = [f"/u/{links.token('unsubscribe', r, list_id, secrets[r])}" for r in range(1, requests + 1)]
    with web_process(database_url, DIGEST_BASE_URL=BASE_URL) as server:
        get, post = _phases(server, gets, posts)
    with engine.connect() as connection:
        left = int(
            connection.execute(text("SELECT count(*) FROM subscription WHERE status = 'unsubscribed'")).scalar_one()
        )
    engine.dispose()
    if left != len(post.latencies):
        raise RuntimeError(f"{len(post.latencies)} one-click POSTs answered, {left} readers unsubscribed")
    return [
        get.figure(f"preference page GET, {database}", "GET", floor[0]),
        post.figure(f"one-click unsubscribe POST, {database}", "POST", floor[1]),
    ]


def run_floor(requests: int) -> tuple[Run, Run]:
    """The floor: as many requests of the same shape from the same clients, answered by a bare Starlette app
    with a fixed page (no middleware, no database)."""
    paths = [f"/x/{n:043d}" for n in range(requests)]
    with web_process("sqlite://", floor=True) as server:
        return _phases(server, paths, paths)


def bench_pages(postgres_url: str | None, readers: int = 20_000, requests: int = 3_000) -> list[Figure]:
    """The readers' pages on SQLite (and PostgreSQL when a URL is given), beside the floor."""
    floor = run_floor(requests)
    figures = [floor[0].figure("floor: bare Starlette page GET", "GET"), floor[1].figure("floor: bare POST", "POST")]
    with tempfile.TemporaryDirectory() as folder:
        figures += run_pages(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", readers, requests, floor)
    if postgres_url:
        with fresh_schema(postgres_url) as schema_url:
            figures += run_pages(schema_url, "PostgreSQL", readers, requests, floor)
    return figures
