"""Subscriber CSV import: 100k new readers into a fresh SQLite database, then the same file again.

Target (issue 5): at least 20,000 rows/s for 100k rows on SQLite. The floor is Python's csv module reading
the same rows, the least any import has to do.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from bench.report import Figure, timed
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


def bench_import(rows: int = 100_000) -> list[Figure]:
    """A first import (every row added) and a re-import (every row unchanged), each against the csv floor."""
    lines = sample_csv(rows)
    floor = timed(lambda: sum(1 for _ in csv.DictReader(lines)))
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        mailing_list = init_database(engine, default_list="quotidien")
        outcomes: list[int] = []

        def run() -> None:
            with open_session(engine) as session:
                report = import_csv(lines, session=session, mailing_list=mailing_list, confirmed=True)
                session.commit()
            outcomes.append(len(report.rows))

        for label in ("first import (added)", "re-import (unchanged)"):
            seconds = timed(run)
            figures.append(Figure(f"subscribers import, {label}", rows, "rows", seconds, floor_seconds=floor))
        engine.dispose()
    assert outcomes == [rows, rows], "every row gets an outcome"
    return figures
