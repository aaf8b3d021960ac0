"""How an agent is chosen and who the staff are: queue settings, shift rules, distribution,
the seat machine, their storage queries, the per-node queue engine and staff accounts.

Imports the kernel, the database models, ticket rules and the call core's queue inputs;
never the web app, the command line or the process wiring (``hotline``).
"""
