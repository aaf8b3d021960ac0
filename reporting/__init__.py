"""Reporting, one feature: report periods (``periods``), the figures of a period
(``reports``) and the wallboard's live figures (``wallboard``), read from the database.

Read-only queries over the models and the agents' stores; never the web app, the command
line or the process wiring. Its faces are ``webapp/reports.py`` and ``webapp/wallboard.py``.
"""
