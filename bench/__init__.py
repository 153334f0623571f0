"""Benchmarks (`make bench`, `python -m bench`): figures with a baseline measured in the same run."""
