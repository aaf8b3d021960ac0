"""The shared kernel: settings, the staff roles, YAML and CSV with line numbers, the
business calendar, the clock and retry/backoff — what every feature uses.

It must not import anything of the product (no ``hotline``, ``ivr``, ``agents``,
``tickets``, ``callbacks``, ``reporting``, ``webapp``, ``ticketdb``, ``simulator``):
everything else is built on it, never the other way round.
"""
