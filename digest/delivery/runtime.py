"""What a send needs from the process around it: pacing (backoff, rate limit), stop signals and the garbage
collector's tuning (the senders' locks are :mod:`digest.delivery.liveness`)."""

from __future__ import annotations

import gc
import logging
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@contextmanager
def rare_collections() -> Iterator[None]:
    """Keep the cyclic garbage collector mostly out of the way of a send, and put it back after.

    A batch makes thousands of short-lived dicts and strings and no reference cycles, yet every 700 allocations
    started a collection that also walked what the process had loaded (SQLAlchemy, the rendered edition):
    10-15% of the sending time at 100,000 readers. Objects alive at the start are frozen out of the walks, and
    collections start after 10,000 allocations.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass
class Pacing:
    """Time as the sender sees it: waits between retries and for the rate limit. Tests pass fakes."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    base_delay: float = 1.0
    max_delay: float = 300.0
    _next_slot: float = 0.0

    def backoff(self, attempt: int, hint: float | None) -> float:
        """Seconds before try ``attempt`` (1, 2, ...): the provider's reset time if it gave one, else
        exponential with jitter, so many senders do not retry in step."""
        if hint is not None:
            return min(self.max_delay, hint + self.jitter() * self.base_delay)
        exponential = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return exponential / 2 + self.jitter() * exponential / 2

    def throttle(self, messages: int, rate: float) -> None:
        """Wait until ``messages`` more messages fit under ``rate`` per second."""
        if rate <= 0:
            return
        now = self.monotonic()
        if self._next_slot > now:
            self.sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + messages / rate


class StopFlag:
    """Raised by SIGTERM (systemd, kill) or SIGINT (Ctrl-C): the send stops after the batch in flight."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @classmethod
    @contextmanager
    def on_signals(cls) -> Iterator[StopFlag]:
        """A flag this process's SIGTERM and SIGINT raise (a second Ctrl-C stops at once); the previous
        handlers come back when the block ends."""
        flag = cls()

        def handle(signum: int, frame: Any) -> None:
            if flag.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            flag.requested = True
            log.warning("stopping after the batch in flight (signal %d)", signum)

        previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield flag
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
