"""A thin typed asyncio client for the Asterisk REST Interface (REST + events WebSocket).

``AriClient`` makes REST requests over one pooled keep-alive session and raises the
typed errors of ``errors``; ``EventStream`` keeps the events WebSocket open with
supervision (ping, capped jittered backoff, reconcile after every connect);
``OrderedDispatcher`` gives per-channel ordered handling.
"""

from ivr.ari.client import AriClient, AriConfig
from ivr.ari.dispatch import OrderedDispatcher
from ivr.ari.stream import EventStream

__all__ = ["AriClient", "AriConfig", "EventStream", "OrderedDispatcher"]
