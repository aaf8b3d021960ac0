"""Benchmarks: ``python -m bench`` (or ``make bench``) runs them and writes their figures
to ``bench/results/*.json`` and the README's results table."""
