"""Worker processes (``--workers``, PostgreSQL only): each runs its own deliverer on one edition, and they
share its queue through ``FOR UPDATE SKIP LOCKED`` claims. Each holds its own sender lock
(:mod:`digest.delivery.liveness`), so what a dead one left in flight is seen at once."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.forkserver
import queue
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from digest.db import make_engine
from digest.delivery.batches import Mailing
from digest.delivery.deliverer import Deliverer
from digest.delivery.liveness import lost_database, sender_lock
from digest.delivery.policy import SendOptions
from digest.delivery.runtime import Pacing, StopFlag
from digest.errors import DigestError, MailError
from digest.mail import open_backend
from digest.settings import Settings
from subscribers.models import utcnow

log = logging.getLogger(__name__)


def run_workers(
    settings: Settings,
    edition_id: int,
    options: SendOptions,
    this_run: Counter[str],
    errors: list[str],
    on_progress: Callable[[int], None] | None,
) -> None:
    """Run ``options.workers`` processes on one edition; they share its queue through SKIP LOCKED claims."""
    context = _process_context()
    messages: Any = context.Queue()
    processes = [
        context.Process(target=_worker, args=(settings, edition_id, options, messages), daemon=True)
        for _ in range(options.workers)
    ]
    for process in processes:
        process.start()
    reported, failures = 0, []
    while reported < len(processes):
        try:
            kind, value = messages.get(timeout=1.0)
        except queue.Empty:
            # A worker killed outright (OOM, SIGKILL) never reports: stop waiting once all have exited.
            if all(not process.is_alive() for process in processes) and messages.empty():
                failures.append("a worker process died; run `digest send` again to settle its batch")
                break
            continue
        if kind == "progress" and on_progress:
            on_progress(value)
        elif kind == "done":
            reported += 1
            counts, their_errors, failure = value
            this_run.update(counts)
            errors.extend(their_errors)
            if failure:
                failures.append(failure)
    for process in processes:
        process.join()
    if failures:
        raise MailError(failures[0])


def _process_context() -> Any:
    """How workers are started: forked from a server process that imported the sender once, rather than
    spawned to import it again (~0.5 s of CPU per worker on two cores, inside the sending phase). The server
    holds no connection or thread of this process: nothing of them reaches a worker, as with "spawn". Where
    there is no forkserver (Windows), or it cannot start (its socket needs a writable temporary directory, which
    a locked-down service may lack), workers are spawned as before."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    try:
        multiprocessing.forkserver.ensure_running()
    except OSError as err:
        log.warning("cannot start the workers' fork server (%s): spawning each worker instead", err)
        return multiprocessing.get_context("spawn")
    return context


def _worker(settings: Settings, edition_id: int, options: SendOptions, messages: Any) -> None:
    """One worker process: its own engine and backend, claiming batches until the queue is empty."""
    engine = make_engine(settings.database_url)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    failure = None
    try:
        with (
            open_backend(settings) as backend,
            StopFlag.on_signals() as stop,
            sender_lock(engine) as lock,
            Session(engine, expire_on_commit=False) as session,
        ):
            mailing = Mailing.from_settings(settings, engine, edition_id, backend)
            deliverer = Deliverer(
                session=session,
                context=mailing.load(session),
                mailing=mailing,
                options=options,
                pacing=Pacing(),
                clock=utcnow,
                on_progress=lambda n: messages.put(("progress", n)),
                should_stop=stop,
                lock=lock,
            )
            try:
                deliverer.run()
            finally:
                counts, errors = deliverer.counts, deliverer.errors
    except DigestError as err:
        failure = str(err)
    except SQLAlchemyError as err:
        failure = str(lost_database(engine, err))
    finally:
        engine.dispose()
        messages.put(("done", (dict(counts), errors, failure)))
        # The process ends when this returns, and the parent waits for it: its shutdown need not walk what it
        # loaded with the cyclic collector (see digest.cli.main).
        gc.freeze()
