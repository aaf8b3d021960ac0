"""The call lifecycle state machine, input by input, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.flow import CallFlow
from ivr.call.greeting import GreetingService

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class FakePrompts:
    def media(self, key: str, language: str) -> tuple[str, ...]:
        return (f"sound:custom/{key}-{language}",)


def new_flow() -> CallFlow:
    return CallFlow(GreetingService, FakePrompts(), default_language="en")


def started(flow: CallFlow) -> list[cmd.Command]:
    return flow.handle(
        inp.Started(at(0), "chan-1", "+8613800000001", "Zhang San", "6000", "en", at(0))
    )


def record_end(commands: list[cmd.Command]) -> cmd.RecordEnd:
    (end,) = [c for c in commands if isinstance(c, cmd.RecordEnd)]
    return end


def kinds(commands: list[cmd.Command]) -> list[str]:
    return [type(c).__name__ for c in commands]


def test_start_records_then_answers() -> None:
    flow = new_flow()
    out = started(flow)
    assert kinds(out) == ["RecordStart", "Answer"]
    start = out[0]
    assert isinstance(start, cmd.RecordStart)
    assert start.caller_number == "+8613800000001"
    assert start.dialled == "6000"


def test_happy_path_greets_hangs_up_and_ends_record_once() -> None:
    flow = new_flow()
    started(flow)
    out = flow.handle(inp.Answered(at(0.1)))
    assert kinds(out) == ["RecordAnswer", "Play", "RecordUpdate"]
    play = out[1]
    assert isinstance(play, cmd.Play)
    assert play.media == ("sound:custom/greeting-en",)
    assert flow.handle(inp.PlaybackBegan(at(0.2), play.playback_id)) == []
    out = flow.handle(inp.PlaybackDone(at(2.5), play.playback_id))
    assert kinds(out) == ["RecordUpdate", "Hangup"]
    assert flow.handle(inp.HangupRequested(at(2.6), 32, soft=True)) == []
    out = flow.handle(inp.Left(at(2.7)))
    assert kinds(out) == ["RecordEnd", "Finished"]
    end = out[0]
    assert isinstance(end, cmd.RecordEnd)
    assert (end.hangup_side, end.end_reason, end.hangup_cause) == ("system", "completed", 16)
    assert end.ended_at == at(2.7)
    # Anything after the end (ChannelDestroyed, replays) changes nothing.
    assert flow.handle(inp.Left(at(3), 16, "Normal Clearing")) == []


def test_caller_hangs_up_during_greeting() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    out = flow.handle(inp.HangupRequested(at(1), 16, soft=False))
    # Only a guard timer in case StasisEnd is lost: nothing is played or hung up.
    assert [c for c in out if not isinstance(c, cmd.StartTimer | cmd.CancelTimer)] == []
    end = record_end(flow.handle(inp.Left(at(1.01))))
    assert (end.hangup_side, end.end_reason, end.hangup_cause) == ("caller", "caller_hangup", 16)
    assert end.hangup_cause_text == "Normal Clearing"


def test_playback_end_after_the_callers_hangup_is_not_mistaken_for_completion() -> None:
    # Asterisk stops the prompt of a channel that hangs up: PlaybackFinished arrives
    # between ChannelHangupRequest and StasisEnd and must not make us hang up.
    flow = new_flow()
    started(flow)
    play = flow.handle(inp.Answered(at(0.1)))[1]
    assert isinstance(play, cmd.Play)
    flow.handle(inp.HangupRequested(at(1), 16, soft=False))
    assert flow.handle(inp.PlaybackDone(at(1.001), play.playback_id)) == []
    assert flow.handle(inp.Digit(at(1.002), "5")) == []
    end = record_end(flow.handle(inp.Left(at(1.01))))
    assert (end.hangup_side, end.end_reason) == ("caller", "caller_hangup")


def test_caller_hangup_without_stasis_end_still_ends_the_record() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    out = flow.handle(inp.HangupRequested(at(1), None, soft=False))
    grace = [c for c in out if isinstance(c, cmd.StartTimer)]
    assert len(grace) == 1
    end = record_end(flow.handle(inp.TimerFired(at(3), grace[0].name, grace[0].token)))
    assert (end.hangup_side, end.end_reason, end.hangup_cause) == ("caller", "caller_hangup", 16)


def test_stale_playback_done_is_ignored() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    assert flow.handle(inp.PlaybackDone(at(1), "someone-else-p1")) == []


def test_answer_failure_hangs_up_without_speaking() -> None:
    flow = new_flow()
    started(flow)
    out = flow.handle(inp.CommandFailed(at(0.5), "Answer", "503", gone=False))
    assert kinds(out) == ["Hangup"]


def test_play_failure_apologises_then_hangs_up() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    out = flow.handle(inp.CommandFailed(at(0.2), "Play", "503", gone=False))
    assert kinds(out) == ["Play", "StartTimer", "RecordUpdate"]
    apology = out[0]
    assert isinstance(apology, cmd.Play)
    assert apology.media == ("sound:custom/apology_technical-en",)
    out = flow.handle(inp.PlaybackDone(at(4), apology.playback_id))
    assert kinds(out) == ["CancelTimer", "Hangup"]
    out = flow.handle(inp.Left(at(4.1)))
    end = out[0]
    assert isinstance(end, cmd.RecordEnd)
    assert (end.hangup_side, end.end_reason) == ("system", "error")


def test_apology_that_cannot_play_still_hangs_up() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    flow.handle(inp.CommandFailed(at(0.2), "Play", "503", gone=False))
    out = flow.handle(inp.CommandFailed(at(0.3), "Play", "503", gone=False))
    assert "Hangup" in kinds(out)


def test_apology_guard_hangs_up_if_playback_never_reports() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    out = flow.handle(inp.CommandFailed(at(0.2), "Play", "503", gone=False))
    timer = next(c for c in out if isinstance(c, cmd.StartTimer))
    out = flow.handle(inp.TimerFired(at(31), timer.name, timer.token))
    assert kinds(out) == ["Hangup"]


def test_failed_hangup_is_retried_with_growing_delay() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.CommandFailed(at(0.5), "Answer", "503", gone=False))
    delays = []
    for i in range(6):
        out = flow.handle(inp.CommandFailed(at(1 + i), "Hangup", "503", gone=False))
        timer = out[0]
        assert isinstance(timer, cmd.StartTimer)
        delays.append(timer.seconds)
        assert kinds(flow.handle(inp.TimerFired(at(1.5 + i), timer.name, timer.token))) == [
            "Hangup"
        ]
    assert delays == sorted(delays)
    assert delays[0] == 0.5
    assert delays[-1] == 5.0


def test_stale_timer_token_is_ignored() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.CommandFailed(at(0.5), "Answer", "503", gone=False))
    first = flow.handle(inp.CommandFailed(at(1), "Hangup", "503", gone=False))[0]
    second = flow.handle(inp.CommandFailed(at(1.1), "Hangup", "503", gone=False))[0]
    assert isinstance(first, cmd.StartTimer) and isinstance(second, cmd.StartTimer)
    assert flow.handle(inp.TimerFired(at(2), first.name, first.token)) == []


def test_channel_gone_is_finalised_after_grace_when_stasis_end_is_lost() -> None:
    flow = new_flow()
    started(flow)
    out = flow.handle(inp.CommandFailed(at(0.5), "Answer", "not found", gone=True))
    timer = out[0]
    assert isinstance(timer, cmd.StartTimer)
    out = flow.handle(inp.TimerFired(at(2.5), timer.name, timer.token))
    # A last hang-up first: "gone" was only inferred from a 404/409.
    assert kinds(out) == ["Hangup", "RecordEnd", "Finished"]
    end = record_end(out)
    assert end.hangup_side == "unknown"


def test_adopted_call_uses_playback_ids_that_cannot_collide_with_the_old_ones() -> None:
    # Before the restart the greeting had id <chan>-p1 and may still be playing;
    # Asterisk answers 409 to a second playback with that id.
    first = new_flow()
    started(first)
    old = first.handle(inp.Answered(at(0.1)))[1]
    assert isinstance(old, cmd.Play)
    adopted = new_flow()
    out = adopted.handle(
        inp.Adopted(at(5), "chan-1", "+8613800000001", "", "6000", "en", at(0), True, None)
    )
    apology = [c for c in out if isinstance(c, cmd.Play)]
    assert len(apology) == 1
    assert apology[0].playback_id != old.playback_id
    assert apology[0].media == ("sound:custom/apology_technical-en",)


def test_unobserved_end_after_a_gap() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.Answered(at(0.1)))
    out = flow.handle(inp.Left(at(9), unobserved=True))
    end = out[0]
    assert isinstance(end, cmd.RecordEnd)
    assert (end.hangup_side, end.end_reason) == ("unknown", "ended_unobserved")


def test_resync_resends_lost_hangup() -> None:
    flow = new_flow()
    started(flow)
    flow.handle(inp.CommandFailed(at(0.5), "Answer", "503", gone=False))
    assert kinds(flow.handle(inp.Resynced(at(1)))) == ["Hangup"]


def test_adopted_with_snapshot_resumes_the_service() -> None:
    flow = new_flow()
    started(flow)
    out = flow.handle(inp.Answered(at(0.1)))
    snapshot = next(c for c in out if isinstance(c, cmd.RecordUpdate)).fields["state"]
    assert isinstance(snapshot, dict)

    restarted = new_flow()
    out = restarted.handle(
        inp.Adopted(at(5), "chan-1", "+861", "", "6000", "en", at(0), True, snapshot)
    )
    assert kinds(out) == ["RecordStart", "Play", "RecordUpdate"]
    play = out[1]
    assert isinstance(play, cmd.Play)
    assert play.media == ("sound:custom/greeting-en",)
    # The new playback id must differ from those used before the restart.
    assert play.playback_id != "chan-1-p1"


def test_adopted_without_state_apologises_and_hangs_up() -> None:
    flow = new_flow()
    out = flow.handle(inp.Adopted(at(5), "chan-1", "+861", "", "6000", "en", at(0), True, None))
    assert kinds(out)[:2] == ["RecordStart", "Play"]
    play = out[1]
    assert isinstance(play, cmd.Play)
    assert play.media == ("sound:custom/apology_technical-en",)
    out = flow.handle(inp.PlaybackDone(at(8), play.playback_id))
    assert "Hangup" in kinds(out)
    end = flow.handle(inp.Left(at(8.2)))[0]
    assert isinstance(end, cmd.RecordEnd)
    assert end.end_reason == "state_lost"


def test_adopted_unanswered_without_state_is_started_as_a_new_call() -> None:
    # Its StasisStart was lost in a gap in the events: the caller has heard nothing yet,
    # so the call starts from the beginning instead of being dropped.
    flow = new_flow()
    out = flow.handle(inp.Adopted(at(5), "chan-1", "+861", "", "6000", "en", at(0), False, None))
    assert kinds(out) == ["RecordStart", "Answer"]
    out = flow.handle(inp.Answered(at(5.1)))
    assert kinds(out)[:3] == ["RecordAnswer", "Play", "RecordUpdate"]
    play = out[1]
    assert isinstance(play, cmd.Play)
    assert play.media == ("sound:custom/greeting-en",)
