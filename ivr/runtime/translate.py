"""ARI events → call-flow inputs. The only place that knows both vocabularies."""

from __future__ import annotations

from datetime import datetime

from ivr.ari import events as ev
from ivr.call import inputs as inp


def caller_started(event: ev.StasisStart, caller_tier: str = "general") -> inp.Started:
    ch = event.channel
    return inp.Started(
        at=event.timestamp,
        channel_id=ch.id,
        caller_number=ch.caller.number,
        caller_name=ch.caller.name,
        dialled=ch.dialplan.exten if ch.dialplan else "",
        language=ch.language,
        created_at=ch.creationtime,
        caller_tier=caller_tier,
    )


def to_input(event: ev.Event, now: datetime) -> inp.Input | None:
    """Translate one ARI event for a known call; None for events a call ignores."""
    if isinstance(event, ev.ChannelDtmfReceived):
        return inp.Digit(event.timestamp, event.digit)
    if isinstance(event, ev.PlaybackStarted):
        return inp.PlaybackBegan(event.timestamp, event.playback.id)
    if isinstance(event, ev.PlaybackFinished):
        return inp.PlaybackDone(
            event.timestamp, event.playback.id, event.playback.state != "failed"
        )
    if isinstance(event, ev.ChannelHangupRequest):
        return inp.HangupRequested(event.timestamp, event.cause, bool(event.soft))
    if isinstance(event, ev.StasisEnd):
        return inp.Left(event.timestamp)
    if isinstance(event, ev.ChannelDestroyed):
        return inp.Left(event.timestamp, event.cause, event.cause_txt)
    return None


def leg_input(event: ev.Event) -> inp.Input | None:
    """An event of a leg we originated for a call (its id is ``<call>~…``)."""
    leg = event.channel_id
    if leg is None:
        return None
    if isinstance(event, ev.StasisStart):
        return inp.LegAnswered(event.timestamp, leg)  # an originated channel enters on answer
    if isinstance(event, ev.StasisEnd):
        # An answered leg's last event to us: Asterisk unsubscribes on StasisEnd.
        return inp.LegEnded(event.timestamp, leg)
    if isinstance(event, ev.ChannelDestroyed):
        return inp.LegEnded(event.timestamp, leg, event.cause)  # one that never answered
    return None


def recording_input(event: ev.Event) -> inp.Input | None:
    """RecordingFinished/RecordingFailed of a call's bridge recording; None otherwise.

    Asterisk reports a discarded (``canceled``) recording as finished: no file, so it
    counts as not ok, like a failure.
    """
    if isinstance(event, ev.RecordingFinished | ev.RecordingFailed):
        rec = event.recording
        ok = isinstance(event, ev.RecordingFinished) and rec.state == "done"
        return inp.RecordingEnded(event.timestamp, rec.name, ok, rec.cause or rec.state)
    return None


def bridge_of(event: ev.Event) -> str | None:
    """The bridge a recording event is about (``target_uri`` ``bridge:<id>``)."""
    if isinstance(event, ev.RecordingEvent):
        kind, _, ident = event.recording.target_uri.partition(":")
        return ident if kind == "bridge" and ident else None
    return None
