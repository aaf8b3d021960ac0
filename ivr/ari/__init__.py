"""A thin typed asyncio client for the Asterisk REST Interface (REST + events WebSocket).

``client.AriClient`` makes REST requests over one pooled keep-alive session and raises
the typed errors of ``errors``; ``stream.EventStream`` keeps the events WebSocket open
with supervision (ping, capped jittered backoff, reconcile after every connect);
``dispatch.OrderedDispatcher`` gives per-channel ordered handling. Import from the
modules: nothing is re-exported here, so the modules can use each other without a circle.
"""
