"""The pure call state machine: inputs in, commands out; no I/O here.

``inputs`` are what happened (already translated from ARI events, REST results and
timers), ``commands`` are what should happen next, ``flow.CallFlow`` is the lifecycle
every call goes through (answer → service → hang up → one complete record) and a
``service`` (greeting, menu) decides what the caller hears in between.
"""
