"""The ``hotline`` command line: ``main`` builds the parser and runs a command; one module
per command family (agents, users, tickets, callbacks …) over the shared ``base``. Must not
be imported by the web app, the call core or storage: it sits at the top.
"""
