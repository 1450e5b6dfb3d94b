"""Four worker processes share one edition on PostgreSQL: no reader twice, none left."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.db import make_engine
from digest.delivery import Mailing, SendOptions, send_edition
from digest.errors import DigestError, NothingToSend
from digest.mail import open_backend
from digest.models import Delivery
from tests.seed import add_readers, seed_edition
from tests.servers.sendgrid import SendGridStandIn

READERS = 2000


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_four_workers_share_one_edition(engine: Engine, make_settings) -> None:
    add_readers(engine, READERS)
    edition = seed_edition(engine)
    with SendGridStandIn(delay=0.01) as server:
        settings = make_settings(mail_backend="sendgrid", sendgrid_api_key=server.api_key, sendgrid_host=server.url)
        progress: list[int] = []
        with open_backend(settings) as backend:
            report = send_edition(
                Mailing.from_settings(settings, engine, edition, backend),
                options=SendOptions(batch_size=50, workers=4),
                on_progress=progress.append,
                worker_settings=settings,
            )
    received = Counter(m.to for m in server.messages)
    assert len(received) == READERS, "none left"
    assert max(received.values()) == 1, "no reader twice"
    assert report.this_run["sent"] == READERS and report.finished
    assert sum(progress) == READERS
    with Session(engine) as session:
        statuses = Counter(d.status for d in session.exec(select(Delivery)))
        attempts = Counter(d.attempts for d in session.exec(select(Delivery)))
    assert statuses == {"sent": READERS}
    assert attempts == {1: READERS}, "each delivery was claimed by exactly one worker"


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_senders_started_together_share_the_edition(engine: Engine, make_settings) -> None:
    """As two machines running `digest send` at the same time: both enqueue, neither fails, nobody twice."""
    add_readers(engine, 5000)
    edition = seed_edition(engine)
    with SendGridStandIn() as server:
        settings = make_settings(mail_backend="sendgrid", sendgrid_api_key=server.api_key, sendgrid_host=server.url)
        start = threading.Barrier(2)
        outcomes: list[object] = []

        def machine() -> None:
            own_engine = make_engine(settings.database_url)
            start.wait()
            try:
                with open_backend(settings) as backend:
                    outcomes.append(send_edition(Mailing.from_settings(settings, own_engine, edition, backend)))
            except DigestError as err:
                outcomes.append(err)
            finally:
                own_engine.dispose()

        threads = [threading.Thread(target=machine) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    received = Counter(m.to for m in server.messages)
    assert len(received) == 5000 and max(received.values()) == 1
    assert all(not isinstance(o, DigestError) or isinstance(o, NothingToSend) for o in outcomes), outcomes


# What start method the workers get, asked of a fresh interpreter (a fork server, once running, stays so).
START_METHOD_PROBE = """
import logging, multiprocessing, sys
logging.basicConfig()
if sys.argv[1:] == ["no-temp"]:
    # Where the fork server would put its socket: a directory that does not exist, as on a service whose
    # temporary directories are all read-only.
    multiprocessing.current_process()._config["tempdir"] = "/nonexistent/digest-test"
from digest.delivery.workers import _process_context
print(_process_context().get_start_method())
"""


def _start_method(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", START_METHOD_PROBE, *args], capture_output=True, text=True, check=True, timeout=60
    )


def test_workers_fork_from_a_server_that_imported_the_sender() -> None:
    assert _start_method().stdout.strip() == "forkserver"


def test_workers_are_spawned_when_the_fork_server_cannot_start() -> None:
    completed = _start_method("no-temp")
    assert completed.stdout.strip() == "spawn"
    assert "spawning each worker instead" in completed.stderr
