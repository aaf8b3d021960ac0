"""Callbacks, one feature: the pure plan (quiet hours, slots, share-out rules), the callers'
own requests, the worklist (items, attempts, dials through the queue engine), where the
other items come from (``sources``) and the reports (``coverage``).

Storage and rules only: imports the kernel, the database models and the agents' stores;
never the web app, the command line or the process wiring. Its faces are
``webapp/callbacks.py``, ``webapp/api_v1/callbacks.py`` and ``hotline/cli/callbacks.py``.
"""
