"""Whole processes, as a terminal user or cron pays them (start-up included): `digest --help`, `digest build`
of the sample day, `digest subscribers import` of 100k rows. Each the median of ``repeat`` runs; the floor of
`--help` and `build` is the interpreter starting and exiting (`python -c pass`), the floor of the import is
the in-process import of the same file (the library alone)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.import_csv import sample_csv
from bench.report import Figure, timed
from digest.db import init_database, make_engine, open_session
from subscribers.importer import import_csv
from tests.golden import SAMPLE_DATE

ROOT = Path(__file__).parent.parent


def _run(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one child process; it must succeed."""
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
    return time.perf_counter() - start


def _median(args: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(_run(args, env) for _ in range(repeat))


def bench_process(repeat: int = 5, rows: int = 100_000) -> list[Figure]:
    """`--help`, `build` and `subscribers import` as whole processes."""
    digest = [sys.executable, "-m", "digest"]
    interpreter = _median([sys.executable, "-c", "pass"], {}, repeat)
    figures = [Figure("digest --help, whole process", 1, "runs", _median([*digest, "--help"], {}, repeat), interpreter)]
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}",
            "DIGEST_SECRET_KEY": "bench-key",
            "DIGEST_AUTO_APPROVE": "1",
            "DIGEST_OUTBOX_DIR": str(Path(folder) / "outbox"),
        }
        _run([*digest, "init"], env)
        build = _median([*digest, "build", "--date", SAMPLE_DATE.isoformat()], env, repeat)
        figures.append(Figure("digest build of the sample day, whole process", 1, "runs", build, interpreter))
        csv_file = Path(folder) / "readers.csv"
        csv_file.write_text("".join(sample_csv(rows)), encoding="utf-8")
        seconds = _run([*digest, "subscribers", "import", str(csv_file), "--confirmed"], env)
        engine = make_engine(f"sqlite:///{Path(folder) / 'floor.db'}")
        mailing_list = init_database(engine, default_list="quotidien")
        lines = sample_csv(rows)

        def library() -> None:
            with open_session(engine) as session:
                import_csv(lines, session=session, mailing_list=mailing_list, confirmed=True)
                session.commit()

        floor = timed(library)
        engine.dispose()
        figures.append(
            Figure(
                f"digest subscribers import {rows:,}, whole process",
                rows,
                "rows",
                seconds,
                floor,
                note="floor: the same import in-process",
            )
        )
    return figures
