"""Benchmark: import a CSV of 100k new readers into a fresh SQLite database, then again (all unchanged).

Run with `python -m bench.import_csv [ROWS]`; :func:`measure` is what `make bench` calls.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from digest.db import init_database, make_engine, open_session
from subscribers.importer import import_csv


def sample_csv(rows: int) -> list[str]:
    """A CSV of ``rows`` distinct readers over 50 domains, in the three languages, some with sections."""
    lines = ["email,name,language,sections\n"]
    languages = ("fr", "en", "ar")
    for i in range(rows):
        sections = "Économie;Tech" if i % 7 == 0 else ""
        lines.append(f"reader{i}@example{i % 50}.ma,Reader {i},{languages[i % 3]},{sections}\n")
    return lines


def measure(rows: int = 100_000) -> dict[str, float]:
    """Rows per second of a first import (all added) and of a re-import (all unchanged)."""
    lines = sample_csv(rows)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        mailing_list = init_database(engine, default_list="quotidien")
        results = {}
        for label in ("first import", "re-import"):
            with open_session(engine) as session:
                started = time.perf_counter()
                report = import_csv(lines, session=session, mailing_list=mailing_list, confirmed=True)
                elapsed = time.perf_counter() - started
            assert len(report.rows) == rows
            results[label] = rows / elapsed
        engine.dispose()
    return results


def main() -> None:
    """Print the rows per second of both imports."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for label, rate in measure(rows).items():
        print(f"subscribers import, {label} of {rows} rows on SQLite: {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()
