"""Benchmarks of digest (`make bench`): each figure as a rate, a per-item cost and a ratio to a floor."""
