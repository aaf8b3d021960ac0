"""Snooping on a channel (``POST /channels/{channelId}/snoop[/{snoopId}]``), the way
Asterisk's ``res_stasis_snoop`` and ``ari/resource_channels.c`` do it.

The request is checked in Asterisk's order (spy, whisper, one of them not ``none``, the
app, then the channel: 400s before 404). The snoop channel, ``Snoop/<spied id>-<n>``,
is created Up and put into the Stasis application by a thread of its own: the REST
answer (the new channel, 200) goes out first and ``StasisStart`` with ``appArgs``
follows. An id already in use makes the channel allocation fail: 500, "Snoop channel
could not be created" (not a documented code, but what Asterisk answers). With the app
not connected, that thread's ``Stasis()`` fails and the channel just goes, unseen.

When the spied channel goes its audiohooks are detached, and the snoop channel hangs
itself up at its next 20 ms read: ``StasisEnd`` (leaving any bridge first), then
``ChannelDestroyed`` — which, as for any channel, the app no longer receives after
``StasisEnd``. Nobody asked for that hang-up, so there is no ``ChannelHangupRequest``,
and no cause was set: 0, "Unknown".
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from simulator.model import EngineCore, SimChannel, SimError

DIRECTIONS = ("none", "both", "out", "in")
# Asterisk reads a snoop channel every SNOOP_INTERVAL (20 ms): the latest it notices
# that its audiohook was detached.
READ_INTERVAL = 0.02
# Asterisk's ``chan_idx``: one counter for every snoop channel, whatever it spies on.
_chan_idx = itertools.count()


def snoop(
    engine: EngineCore,
    channel_id: str,
    *,
    spy: str | None,
    whisper: str | None,
    app: str | None,
    app_args: str | None,
    snoop_id: str | None,
) -> SimChannel:
    """Start snooping on ``channel_id``; returns the snoop channel (not yet in Stasis)."""
    spy, whisper = spy or "none", whisper or "none"
    if spy not in DIRECTIONS:
        raise SimError(400, "Invalid direction specified for spy")
    if whisper not in DIRECTIONS:
        raise SimError(400, "Invalid direction specified for whisper")
    if spy == "none" and whisper == "none":
        raise SimError(400, "Direction must be specified for at least spy or whisper")
    if not app:
        raise SimError(400, "Application name is required")
    spied = engine.channels.get(channel_id)
    if spied is None or spied.hungup:
        raise SimError(404, "Provided channel was not found")
    if snoop_id and snoop_id in engine.channels:
        raise SimError(500, "Snoop channel could not be created")
    ch = SimChannel(
        id=snoop_id or engine.new_id(),
        name=f"Snoop/{spied.id}-{next(_chan_idx):08x}",
        state="Up",
        created=datetime.now(UTC),
        snoop_of=spied.id,
        spy=spy,
        whisper=whisper,
    )
    engine.channels[ch.id] = ch
    engine.channels_seen.append(ch)
    spied.snoops.append(ch.id)
    args = [a for a in (app_args or "").split(",") if a]
    engine.loop.call_soon(_run_stasis, engine, ch, app, args)
    return ch


def _run_stasis(engine: EngineCore, ch: SimChannel, app: str, args: list[str]) -> None:
    if ch.hungup:
        return
    if app not in engine.apps:
        engine.hangup(ch, 0, by="system", request=False)
        return
    engine.enter_stasis(ch, app, args, awaits_reaction=False)


def after_hangup(engine: EngineCore, ch: SimChannel) -> None:
    """``ch`` just went: its snoops end at their next read; a snoop leaves its list."""
    if ch.snoop_of is not None:
        spied = engine.channels.get(ch.snoop_of)
        if spied is not None and ch.id in spied.snoops:
            spied.snoops.remove(ch.id)
    for snoop_id in ch.snoops:
        snooper = engine.channels.get(snoop_id)
        if snooper is not None:
            engine.loop.call_later(READ_INTERVAL, _detached, engine, snooper)
    ch.snoops.clear()


def _detached(engine: EngineCore, snooper: SimChannel) -> None:
    engine.hangup(snooper, 0, by="far_end", request=False)
