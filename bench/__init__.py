"""Benchmarks, a tool beside the product: ``python -m bench`` (or ``make bench``) runs them
and writes their figures to ``bench/results/*.json`` and the README's results table.
Nothing of the product imports it."""
