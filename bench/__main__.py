"""`make bench`: the benchmarks that guard the project's speed targets."""

from __future__ import annotations

from bench import import_csv

if __name__ == "__main__":
    import_csv.main()
