"""How a benchmark figure is measured and printed."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured run: ``count`` items in ``seconds``, optionally against a floor doing the bare minimum."""

    name: str
    count: int
    unit: str
    seconds: float
    floor_seconds: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.count / self.seconds if self.seconds else float("inf")

    @property
    def per_item_us(self) -> float:
        """Microseconds per item."""
        return self.seconds / self.count * 1e6 if self.count else 0.0

    def line(self) -> str:
        """The figure as one printed line."""
        parts = [
            f"{self.name:<44}",
            f"{self.count:>9,} {self.unit:<8}",
            f"{self.seconds:8.3f} s",
            f"{self.rate:>12,.0f} {self.unit}/s",
            f"{self.per_item_us:>10.2f} µs/{self.unit.rstrip('s')}",
        ]
        if self.floor_seconds:
            parts.append(f"{self.seconds / self.floor_seconds:5.2f}x floor")
        if self.peak_rss_mb is not None:
            parts.append(f"peak RSS {self.peak_rss_mb:.0f} MB")
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)


def timed(function: Callable[[], object]) -> float:
    """Seconds ``function`` takes to run once."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024
