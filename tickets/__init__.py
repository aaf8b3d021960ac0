"""Tickets, one feature: what happens on a call as a record the business acts on
(domain.md §2, §5).

The rules are pure — kinds and their fields (``kinds``), the status workflow
(``workflow``), escalation (``escalation``), SLAs (``sla``), dispatch (``dispatch``), the
rules file (``config``), the site's rule files as loaded (``site``) — and beside them
their storage: tickets and their history (``store``), escalations
(``escalation_store``), the notification outbox (``outbox``), dispatch lists
(``dispatch_store``) and SLA states (``sla_store``). Never imports the web app, the
command line or the process wiring; timed jobs live in ``hotline.jobs``.
"""
