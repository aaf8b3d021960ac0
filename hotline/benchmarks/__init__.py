"""Benchmarks that ship with the package, so the installed ``hotline bench`` can run them
(``python -m bench`` in a checkout runs them too and writes the README's tables)."""
