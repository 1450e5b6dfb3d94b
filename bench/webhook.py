"""The SendGrid event webhook under load: signed 1,000-event requests from one client on loopback, against one
uvicorn worker, on SQLite and PostgreSQL. Bounded: ``requests`` posts, and at most ``MAX_SECONDS`` of them.

Each run gets a fresh database with readers and a sent edition (one delivery per reader). The events are a
day's mix after a send: mostly delivered and opens, some clicks, 2% bounces, 1% drops, some complaints and
unsubscribes, 1% for deliveries this database does not know. Every posted event is checked stored once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from bench.report import Figure
from bench.send import fresh_schema, populate
from digest.db import make_engine

ROOT = Path(__file__).parent.parent
MAX_SECONDS = 60.0
# Issue 19: a million-reader send makes ~3 million events a day, in bursts.
TARGET_EVENTS_PER_SECOND = 20_000
# The share of each kind in a request, out of 200.
MIX = (
    ("delivered", 110),
    ("open", 50),
    ("click", 20),
    ("bounce", 4),
    ("dropped", 2),
    ("deferred", 6),
    ("spamreport", 2),
    ("unsubscribe", 2),
    ("processed", 4),
)
KINDS = [kind for kind, share in MIX for _ in range(share)]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class WebProcess:
    """The web app's process, as the load generators see it."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process used so far: on a shared machine this, not the wall
        clock, says what a change costs."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def web_process(database_url: str, *, floor: bool = False, **env: str) -> Iterator[WebProcess]:
    """The web app on one uvicorn worker in its own process (``floor``: the bare app of :mod:`bench.webserver`).
    Its access log goes nowhere, as a log shipped elsewhere would."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.webserver", str(port), *(["floor"] if floor else [])],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "DIGEST_SECRET_KEY": "bench-key", **env},
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/subscribe", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the web app did not start") from None
                time.sleep(0.1)
        yield WebProcess(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def postgres_cpu_seconds() -> float:
    """CPU time PostgreSQL's processes on this machine used so far: the live ones and the backends the
    postmaster has reaped (its children's time). 0 where no PostgreSQL runs here."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(") ")
        except OSError:
            continue  # gone since the listing
        if not name.endswith("(postgres"):
            continue
        fields = rest.split()
        ticks += int(fields[11]) + int(fields[12])
        if fields[1] == "1":  # the postmaster (its parent is init): plus the backends it has reaped
            ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def add_deliveries(database_url: str) -> int:
    """One sent delivery of the built edition per reader; returns the edition id."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        edition_id = int(connection.execute(text("SELECT id FROM edition LIMIT 1")).scalar_one())
        connection.execute(
            text(
                "INSERT INTO delivery (id, edition_id, subscriber_id, status, attempts, sent_at, created_at) "
                "SELECT id, :edition, id, 'sent', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM subscriber"
            ),
            {"edition": edition_id},
        )
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE delivery"))  # as autovacuum would have, long before the events
    engine.dispose()
    return edition_id


def events_for(request: int, size: int, readers: int, edition_id: int) -> list[dict[str, Any]]:
    """Request ``request``'s events: every one a new sg_event_id, 1% for unknown deliveries."""
    now = int(time.time())
    events = []
    for n in range(size):
        serial = request * size + n
        reader = (serial * 7919) % readers
        delivery = reader + 1 if serial % 100 else readers + 10_000 + serial
        events.append(
            {
                "email": f"reader{reader}@example{reader % 97}.ma",
                "timestamp": now,
                "event": KINDS[serial % len(KINDS)],
                "sg_event_id": f"bench-{serial:012d}",
                "sg_message_id": f"msg-{reader}",
                "edition_id": str(edition_id),
                "delivery_id": str(delivery),
                "category": ["quotidien"],
            }
        )
    return events


class Signer:
    """Signs bodies as SendGrid does (ECDSA P-256 over timestamp + body)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = self.private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        }


def run_webhook(
    database_url: str, *, requests: int, size: int, readers: int, clients: int = 1
) -> tuple[int, float, float, float | None]:
    """Post ``requests`` signed requests of ``size`` events from ``clients`` concurrent connections, after one
    warm-up request; (events timed, seconds, server CPU seconds, PostgreSQL's CPU seconds). Checks every posted
    event stored once."""
    edition_id = add_deliveries(database_url)
    signer = Signer()
    bodies = [json.dumps(events_for(r, size, readers, edition_id)).encode() for r in range(requests + 1)]
    with web_process(database_url, SENDGRID_WEBHOOK_PUBLIC_KEY=signer.public) as server:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            # The first request pays for what is done once (imports, statements compiled, connections opened).
            client.post("/webhooks/sendgrid", content=bodies[0], headers=signer.headers(bodies[0])).raise_for_status()
        pending = list(reversed(bodies[1:]))
        posted = [0] * clients

        def post_from(n: int) -> None:
            with httpx.Client(base_url=server.base, timeout=60) as client:
                while pending and time.perf_counter() - start < MAX_SECONDS:
                    body = pending.pop()
                    client.post("/webhooks/sendgrid", content=body, headers=signer.headers(body)).raise_for_status()
                    posted[n] += size

        cpu, database_cpu = server.cpu_seconds(), postgres_cpu_seconds()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post_from, range(clients)))
        seconds = time.perf_counter() - start
        cpu, database_cpu = server.cpu_seconds() - cpu, postgres_cpu_seconds() - database_cpu
    engine = make_engine(database_url)
    with engine.connect() as connection:
        stored = int(connection.execute(text("SELECT count(*) FROM delivery_event")).scalar_one())
    engine.dispose()
    if stored != sum(posted) + size:
        raise RuntimeError(f"webhook: {sum(posted) + size} events posted, {stored} stored")
    return sum(posted), seconds, cpu, database_cpu if engine.dialect.name == "postgresql" else None


def bench_webhook(
    postgres_url: str | None, requests: int = 40, size: int = 1000, readers: int = 20_000
) -> list[Figure]:
    """Events per second through the whole route (verify, parse, store, act) on SQLite and PostgreSQL, from one
    client and from two at once (SendGrid posts from several connections)."""
    figures = []
    for clients in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            populate(url, readers)
            result = run_webhook(url, requests=requests, size=size, readers=readers, clients=clients)
            figures.append(_webhook_figure("SQLite", size, clients, *result))
        if postgres_url:
            with fresh_schema(postgres_url) as schema_url:
                populate(schema_url, readers)
                result = run_webhook(schema_url, requests=requests, size=size, readers=readers, clients=clients)
            figures.append(_webhook_figure("PostgreSQL", size, clients, *result))
    return figures


def _webhook_figure(
    database: str, size: int, clients: int, count: int, seconds: float, cpu: float, database_cpu: float | None
) -> Figure:
    note = f"server CPU {cpu / count * 1e6:.1f} µs/event"
    if database_cpu is not None:
        note += f", PostgreSQL CPU {database_cpu / count * 1e6:.1f} µs/event"
    note += f"; target >= {TARGET_EVENTS_PER_SECOND:,} events/s"
    who = "1 client" if clients == 1 else f"{clients} clients"
    return Figure(f"webhook {database}, {size}-event signed requests, {who}", count, "events", seconds, note=note)
