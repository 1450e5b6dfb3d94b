"""Run the benchmarks: `python -m bench [--million] [--only NAME ...]` (`make bench`)."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from bench.dashboard import bench_dashboard
from bench.import_csv import bench_import
from bench.pages import bench_pages
from bench.pipeline import bench_build, bench_personalize
from bench.process import bench_process
from bench.report import Figure
from bench.selection import bench_selection
from bench.send import bench_send, postgres_answers
from bench.smtp import bench_smtp
from bench.sources import bench_sources
from bench.webhook import bench_webhook

BENCHES: dict[str, Callable[[argparse.Namespace], list[Figure]]] = {
    "build": lambda _args: [bench_build()],
    "selection": lambda _args: bench_selection(),
    "personalize": lambda _args: bench_personalize(),
    "import": lambda _args: bench_import(),
    "smtp": lambda _args: bench_smtp(),
    "dashboard": lambda args: bench_dashboard(args.dashboard_deliveries),
    "send": lambda args: bench_send(
        (10_000, 100_000, 1_000_000) if args.million else (10_000, 100_000), postgres_url=_postgres(args.postgres)
    ),
    "process": lambda _args: bench_process(),
    "sources": lambda _args: bench_sources(),
    "webhook": lambda args: bench_webhook(_postgres(args.postgres)),
    "pages": lambda args: bench_pages(_postgres(args.postgres)),
}


def _postgres(url: str) -> str | None:
    if url and postgres_answers(url):
        return url
    print(f"PostgreSQL send skipped: no server answers at {url or '(none given)'}", flush=True)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print one line per figure."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these benchmarks")
    parser.add_argument("--million", action="store_true", help="also send to 1,000,000 readers (slow)")
    parser.add_argument(
        "--dashboard-deliveries",
        type=int,
        default=10_000_000,
        help="deliveries seeded under the dashboard's 365 editions (default 10,000,000)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL for the 100k send with 1 and 4 workers (a schema per run, dropped after; '' to skip)",
    )
    args = parser.parse_args(argv)
    print(
        f"digest benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{platform.machine()}"
    )
    for name in args.only or BENCHES:
        for figure in BENCHES[name](args):
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
