"""The benchmarks' own set-up still matches the schema and the app: a small run of the one that builds its data
by hand (a NOT NULL column added later, or the app's host check, once broke `make bench` here unseen)."""

from __future__ import annotations

from bench.dashboard import EDITIONS, bench_dashboard


def test_the_dashboard_benchmark_runs_on_a_small_year() -> None:
    figures = bench_dashboard(deliveries=EDITIONS * 10)
    assert [figure.name for figure in figures] == [
        "dashboard /editor, first render",
        "dashboard /editor, next render",
        "dashboard rates chart (SVG)",
    ]
    assert all(figure.seconds > 0 for figure in figures)
