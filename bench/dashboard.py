"""The editor's dashboard over a year of editions: 365 editions, 10M deliveries (SQLite), `/editor` timed.

Target (issue 18): `/editor` renders in under 1 s, because it reads the per-edition counters, never the
deliveries. The deliveries are seeded with ``INSERT … SELECT`` (editions × readers) and the counters counted
from them once, as the ledger would have kept them.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench.report import Figure, timed
from digest.db import init_database, make_engine
from digest.settings import Settings

EDITIONS = 365


def seed(engine: object, deliveries: int) -> None:
    """EDITIONS sent editions of the last year, ``deliveries`` rows over them, their counters and events."""
    readers = deliveries // EDITIONS
    today = datetime.now(UTC).date()
    with engine.begin() as db:  # type: ignore[attr-defined]
        db.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :readers) "
                "INSERT INTO subscriber (email, email_key, name, language, status, created_at, token_secret) "
                "SELECT 'r' || i || '@example.com', 'r' || i || '@example.com', 'Reader ' || i, 'fr', 'active', "
                ":now, lower(hex(randomblob(16))) FROM n"
            ),
            {"readers": readers, "now": datetime.now(UTC).isoformat()},
        )
        db.execute(
            text(
                "INSERT INTO subscription (subscriber_id, list_id, status, frequency, format, created_at, updated_at) "
                "SELECT id, 1, 'active', 'daily', 'html', created_at, created_at FROM subscriber"
            )
        )
        db.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :editions) "
                "INSERT INTO edition (list_id, date, status, subject, preheader, selection_json, choices_json, "
                "lint_json, lint_override, created_at) "
                "SELECT 1, date(:today, '-' || i || ' days'), 'sent', 'Edition ' || i, '', '{}', '{}', '[]', 0, :now "
                "FROM n"
            ),
            {"editions": EDITIONS, "today": today.isoformat(), "now": datetime.now(UTC).isoformat()},
        )
        db.execute(
            text(
                "INSERT INTO delivery (edition_id, subscriber_id, status, attempts, created_at) "
                "SELECT e.id, s.id, CASE WHEN s.id % 97 = 0 THEN 'failed' ELSE 'sent' END, 1, :now "
                "FROM edition e CROSS JOIN subscriber s"
            ),
            {"now": datetime.now(UTC).isoformat()},
        )
        db.execute(
            text(
                "INSERT INTO edition_counters (edition_id, recipients, sent, failed, uncertain, delivered, opened, "
                "clicked, bounced, unsubscribed) "
                "SELECT edition_id, COUNT(*), SUM(status = 'sent'), SUM(status = 'failed'), 0, "
                "SUM(status = 'sent') * 98 / 100, SUM(status = 'sent') * (25 + edition_id % 10) / 100, "
                "SUM(status = 'sent') * (4 + edition_id % 3) / 100, COUNT(*) / 100, edition_id % 5 "
                "FROM delivery GROUP BY edition_id"
            )
        )


def bench_dashboard(deliveries: int = 10_000_000) -> list[Figure]:
    """Seed a year of editions with ``deliveries`` rows, then time `/editor` (the first render and the next)."""
    from fastapi.testclient import TestClient

    from digest.web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        init_database(engine, default_list="quotidien")
        seeding = timed(lambda: seed(engine, deliveries))
        settings = Settings(
            _env_file=None,
            database_url=url,
            editor_password="bench-editor-password",
            secret_key="bench-secret-key-long-enough",
        )  # type: ignore[call-arg]
        auth = {"Authorization": "Basic " + base64.b64encode(b"editor:bench-editor-password").decode()}
        # The app answers its own host only (DIGEST_BASE_URL's).
        client = TestClient(create_app(settings, engine=engine), headers=auth, base_url=settings.base_url)
        pages: list[int] = []
        first = timed(lambda: pages.append(client.get("/editor").status_code))
        again = timed(lambda: pages.append(client.get("/editor").status_code))
        charts = timed(lambda: pages.append(client.get("/editor/charts/rates.svg").status_code))
        engine.dispose()
    assert pages == [200, 200, 200], pages
    note = f"{EDITIONS} editions, {deliveries:,} deliveries seeded in {seeding:.0f} s; target < 1 s"
    return [
        Figure("dashboard /editor, first render", 1, "pages", first, note=note),
        Figure("dashboard /editor, next render", 1, "pages", again, note=note),
        Figure("dashboard rates chart (SVG)", 1, "pages", charts, note=note),
    ]
