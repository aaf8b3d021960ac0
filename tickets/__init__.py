"""Tickets: what happens on a call as a record the business acts on (domain.md §2, §5).

Pure rules only — kinds and their fields, the status workflow, escalation, SLAs,
dispatch. Storage is in ``ticketdb``; timed jobs in ``hotline``; callbacks in ``callbacks``.
"""
