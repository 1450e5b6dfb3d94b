"""SMTP: 10,000 messages through the smtp backend to a local aiosmtpd sink, against a bare smtplib floor.

Target (issue 7): at least 500 messages/s. The floor sends the same number of ready-made messages with
smtplib on one connection: what any sender must at least do.
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
from datetime import UTC, datetime

from bench.report import Figure, timed
from bench.send import ROOT
from digest.links import Links
from digest.mail.base import Batch, Content, Recipient
from digest.mail.mime import MessageBuilder
from digest.mail.smtp import SmtpBackend
from tests.golden import render_sample

BATCH = 500


def bench_smtp(messages: int = 10_000) -> list[Figure]:
    """Send ``messages`` through SmtpBackend in batches of 500, then the floor, to the same sink."""
    variant = render_sample("fr")
    links = Links("https://news.example.com", ["bench-key"])
    content = Content(subject=variant.subject, html=variant.html, text=variant.text)
    now = datetime.now(UTC)
    batches = [
        Batch(
            content=content,
            recipients=[
                Recipient(email=f"reader{i}@example.ma", fields=links.reader_fields(i, 1, f"secret-{i}"), delivery_id=i)
                for i in range(first, min(first + BATCH, messages))
            ],
            sender="Le Quotidien <news@example.com>",
            list_id="Quotidien <quotidien.example.com>",
            now=now,
            edition_key="2025-11-27.quotidien",
        )
        for first in range(0, messages, BATCH)
    ]
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    try:
        backend = SmtpBackend(f"smtp://127.0.0.1:{port}", timeout=30)

        def send_all() -> None:
            for batch in batches:
                results = backend.send_batch(batch)
                assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]

        seconds = timed(send_all)
        backend.close()
        ready = [MessageBuilder(batches[0]).build(batches[0].recipients[0]).data] * messages

        def floor() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                for data in ready:
                    client.sendmail("news@example.com", ["reader@example.ma"], data)

        floor_seconds = timed(floor)
    finally:
        sink.terminate()
        sink.communicate(timeout=30)
    return [Figure("smtp backend to aiosmtpd sink", messages, "messages", seconds, floor_seconds)]
