"""Benchmarks, a tool beside the product: ``python -m bench`` (or ``make bench``) runs them
and writes their raw figures to ``bench/results/*.json`` (out of git) and the README's
results table.
Nothing of the product imports it."""
