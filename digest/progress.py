"""How `digest send` shows its progress: a rich bar on a terminal, a few plain lines in a cron log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# Without a terminal, one line at most this often (seconds): enough for a log, not a flood.
LOG_EVERY = 10.0


class SendProgress:
    """Progress of one send, written to ``stream`` (stderr): a bar with rate and ETA, or log lines."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.monotonic = monotonic
        self.total = 0
        self.done = 0
        self._started = 0.0
        self._logged = 0.0
        self._logged_done = -1
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> SendProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.total and self.done != self._logged_done:
            # The last figures, unless the last line already said them.
            self._log()

    def start(self, total: int) -> None:
        """The send begins with ``total`` readers waiting."""
        self.total = total
        self._started = self._logged = self.monotonic()
        if self.stream.isatty():
            # rich is imported here: a cron run (no terminal) never draws a bar and skips its import.
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task(self.label, total=total, rate="0")
            self._bar.start()
        else:
            self.stream.write(f"{self.label}: sending to {total} readers\n")
            self.stream.flush()

    def advance(self, count: int) -> None:
        """``count`` more messages reached the provider (sent, refused or uncertain); readers put back in the
        queue or skipped are not counted: they did not leave."""
        self.done += count
        now = self.monotonic()
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=count, rate=f"{self._rate(now):.0f}")
        elif now - self._logged >= LOG_EVERY:
            self._log()

    def _rate(self, now: float) -> float:
        return self.done / max(now - self._started, 1e-9)

    def _log(self) -> None:
        now = self.monotonic()
        self._logged = now
        self._logged_done = self.done
        rate = self._rate(now)
        left = (self.total - self.done) / rate if rate else 0.0
        self.stream.write(
            f"{self.label}: {self.done}/{self.total} messages out, {rate:.0f}/s, about {left:.0f} s left\n"
        )
        self.stream.flush()
