"""Carries out a call's commands: ARI requests, database writes.

Transient ARI failures (503, connection trouble, 5xx) are retried here a few times
with a short backoff — a blip must not cost a caller their call — before the failure
is handed back to the flow as ``CommandFailed``. 404/409 on a channel mean the channel
is gone or has left Stasis: reported at once with ``gone=True``.

Record commands never wait for the database: they go to the ``RecordWriter`` queue,
which applies them in order and retries through outages. Recordings are saved by a
``RecordingBackend`` (``hotline.recordings.RecordingStore``) in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, assert_never, cast

from ivr.ari import errors as ari_errors
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ticketdb import call_log

log = logging.getLogger(__name__)

TRANSIENT = (ari_errors.AriUnavailable, ari_errors.AriConnectionError, ari_errors.AriServerError)
GONE = (ari_errors.AriNotFound, ari_errors.AriConflict)


class Writer(Protocol):
    def submit(self, op: Callable[[Any], object]) -> None: ...


class QueueBackend(Protocol):
    """Carries out the queue's commands (``agents.engine.QueueManager``)."""

    async def execute(self, channel_id: str, command: cmd.QueueCommand) -> inp.Input | None: ...


class PhoneRefusals(Protocol):
    """Hears of phones Asterisk refused to ring (``agents.phones.PhoneMonitor``)."""

    def refused(self, endpoint: str, reason: str) -> None: ...


class RecordingBackend(Protocol):
    """Keeps call recordings: rows for started/failed ones, files for finished ones."""

    def started(self, channel_id: str, command: cmd.StartRecording, at: datetime) -> None: ...

    def start_failed(
        self, channel_id: str, command: cmd.StartRecording, at: datetime, error: str
    ) -> None: ...

    def save(self, channel_id: str, command: cmd.SaveRecording) -> None: ...

    async def drain(self, timeout: float) -> None: ...


class CommandExecutor:
    def __init__(
        self,
        client: Any,
        writer: Writer,
        node: str,
        clock: Callable[[], datetime],
        retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5),
        app: str = "hotline",
        queues: QueueBackend | None = None,
        recordings: RecordingBackend | None = None,
        phones: PhoneRefusals | None = None,
    ) -> None:
        self.phones = phones
        self.recordings = recordings
        self.app = app
        self.queues = queues
        self.client = client
        self.writer = writer
        self.node = node
        self.clock = clock
        self.retry_delays = retry_delays
        self.ari_requests = 0
        self.ari_failures = 0

    async def execute(self, channel_id: str, command: cmd.ExecutedCommand) -> inp.Input | None:
        """Carry out one command; returns the input it produces, if any. Every command the
        session hands over is routed here: a new one that is not fails the type check."""
        match command:
            case (
                cmd.RecordStart()
                | cmd.RecordAnswer()
                | cmd.RecordUpdate()
                | cmd.RecordEnd()
                | cmd.RequestCallback()
            ):
                self._write(channel_id, command)
                return None
            case (
                cmd.Enqueue()
                | cmd.QueueMark()
                | cmd.QueueLeave()
                | cmd.BookCallback()
                | cmd.SeatAnswered()
                | cmd.SeatNoAnswer()
                | cmd.SeatCallEnded()
                | cmd.ClaimAgent()
                | cmd.ControlDone()
                | cmd.CallbackResult()
            ):
                if self.queues is None:
                    return inp.CommandFailed(
                        self.clock(), type(command).__name__, "no queue engine", gone=False
                    )
                return await self.queues.execute(channel_id, command)
            case cmd.StartRecording():
                return await self._start_recording(channel_id, command)
            case cmd.SaveRecording():
                if self.recordings is not None:
                    self.recordings.save(channel_id, command)
                return None
            case cmd.DialListener() | cmd.Snoop() | cmd.BridgeListener():
                return await self._listen(channel_id, command)
            case cmd.HangupLeg() | cmd.DestroyBridge():
                await self._tear_down(channel_id, command)
                return None
            case cmd.StopPlayback():
                await self._stop_playback(channel_id, command)
                return None
            case (
                cmd.Answer()
                | cmd.Play()
                | cmd.Hangup()
                | cmd.ContinueInDialplan()
                | cmd.SetLanguage()
                | cmd.StartMoh()
                | cmd.StopMoh()
                | cmd.Originate()
                | cmd.Bridge()
                | cmd.CreateBridge()
                | cmd.Unbridge()
            ):
                return await self._call_request(channel_id, command)
            case _:
                assert_never(command)

    async def _tear_down(self, channel_id: str, command: cmd.HangupLeg | cmd.DestroyBridge) -> None:
        try:
            if isinstance(command, cmd.HangupLeg):
                await self._ari(self.client.channels.hangup, command.leg_id)
            else:
                await self._ari(self.client.bridges.destroy, command.bridge_id)
        except GONE:
            pass  # gone already: that is what we wanted
        except ari_errors.AriError as exc:
            log.warning("call %s: %s failed: %s", channel_id, type(command).__name__, exc)

    async def _stop_playback(self, channel_id: str, command: cmd.StopPlayback) -> None:
        try:
            await self._ari(self.client.playbacks.stop, command.playback_id)
        except ari_errors.AriNotFound:
            pass  # it finished by itself meanwhile: the race ari-notes.md warns about
        except ari_errors.AriError as exc:
            log.warning(
                "call %s: stopping playback %s failed: %s", channel_id, command.playback_id, exc
            )

    async def _call_request(self, channel_id: str, command: cmd.CallRequest) -> inp.Input | None:
        """A request about the call's channel or its legs and bridges: a channel gone
        (404/409) is reported as such, any other refusal as the command's failure."""
        try:
            match command:
                case cmd.Answer():
                    await self._ari(self.client.channels.answer, channel_id)
                    return inp.Answered(self.clock())
                case cmd.Play():
                    await self._ari(
                        self.client.channels.play,
                        channel_id,
                        list(command.media),
                        playback_id=command.playback_id,
                        lang=command.language,
                    )
                case cmd.Hangup():
                    await self._ari(self.client.channels.hangup, channel_id, reason=command.reason)
                case cmd.ContinueInDialplan():
                    await self._ari(
                        self.client.channels.continue_in_dialplan,
                        channel_id,
                        command.context,
                        command.extension,
                        command.priority,
                    )
                case cmd.SetLanguage():
                    await self._ari(
                        self.client.channels.set_var,
                        channel_id,
                        "CHANNEL(language)",
                        command.language,
                    )
                case cmd.StartMoh():
                    await self._ari(self.client.channels.start_moh, channel_id, command.moh_class)
                case cmd.StopMoh():
                    await self._ari(self.client.channels.stop_moh, channel_id)
                case cmd.Originate():
                    await self._originate(channel_id, command)
                case cmd.Bridge():
                    await self._bridge(command)
                case cmd.CreateBridge():
                    with contextlib.suppress(ari_errors.AriConflict):
                        await self._ari(
                            self.client.bridges.create, "mixing", bridge_id=command.bridge_id
                        )
                case cmd.Unbridge():
                    await self._ari(
                        self.client.bridges.remove_channel,
                        command.bridge_id,
                        list(command.channel_ids),
                    )
                case _:
                    assert_never(command)
            return None
        except GONE as exc:
            return inp.CommandFailed(self.clock(), type(command).__name__, str(exc), gone=True)
        except ari_errors.AriError as exc:
            self.ari_failures += 1
            log.warning("call %s: %s failed: %s", channel_id, type(command).__name__, exc)
            return inp.CommandFailed(self.clock(), type(command).__name__, str(exc), gone=False)

    async def _start_recording(
        self, channel_id: str, command: cmd.StartRecording
    ) -> inp.Input | None:
        """Start the bridge recording. Any refusal (404/409 included: a name already taken
        is not a channel gone) is the recording's failure only, never the call's."""
        at = self.clock()
        if self.recordings is None:
            # Nowhere to keep it: better not to record than to fill Asterisk's spool.
            return inp.CommandFailed(at, "StartRecording", "no recording store", gone=False)
        try:
            await self._ari(
                self.client.bridges.record,
                command.bridge_id,
                command.name,
                format="wav",
                if_exists="fail",
            )
        except ari_errors.AriError as exc:
            log.warning("call %s: recording %s did not start: %s", channel_id, command.name, exc)
            self.recordings.start_failed(channel_id, command, at, str(exc))
            return inp.CommandFailed(self.clock(), "StartRecording", str(exc), gone=False)
        self.recordings.started(channel_id, command, at)
        return None

    async def _listen(self, channel_id: str, command: cmd.ListenCommand) -> inp.Input | None:
        """A lead listening in. Any refusal, 404/409 included, is the listening's failure
        only (``gone=False``): the call's own events say whether the caller is gone."""
        try:
            if isinstance(command, cmd.DialListener):
                await self._ari(
                    self.client.channels.originate,
                    command.endpoint,
                    app=self.app,
                    app_args=f"listen,{channel_id}",
                    caller_id=command.caller_id or None,
                    timeout=command.timeout,
                    channel_id=command.leg_id,
                )
            elif isinstance(command, cmd.Snoop):
                await self._ari(
                    self.client.channels.snoop_channel,
                    channel_id,
                    self.app,
                    spy=command.spy,
                    whisper="none",
                    app_args=f"snoop,{channel_id}",
                    snoop_id=command.snoop_id,
                )
            else:
                await self._bridge(cmd.Bridge(command.bridge_id, command.channel_ids))
                return inp.ListenerBridged(self.clock(), command.bridge_id)
        except ari_errors.AriError as exc:
            log.warning("call %s: %s failed: %s", channel_id, type(command).__name__, exc)
            return inp.CommandFailed(self.clock(), type(command).__name__, str(exc), gone=False)
        return None

    async def drain(self, timeout: float = 10.0) -> None:
        """Let recordings being saved finish (they need the ARI client still open)."""
        if self.recordings is not None:
            await self.recordings.drain(timeout)

    async def _bridge(self, command: cmd.Bridge) -> None:
        # The bridge was made while the agent rang (CreateBridge): joining it is then one
        # request, the only one between the agent's answer and the two talking.
        channels = list(command.channel_ids)
        try:
            await self._ari(self.client.bridges.add_channel, command.bridge_id, channels)
        except ari_errors.AriNotFound:
            with contextlib.suppress(ari_errors.AriConflict):
                await self._ari(self.client.bridges.create, "mixing", bridge_id=command.bridge_id)
            await self._ari(self.client.bridges.add_channel, command.bridge_id, channels)

    async def _originate(self, channel_id: str, command: cmd.Originate) -> None:
        """Ring a leg. Unlike other requests, a 500 is not retried: it is Asterisk refusing
        that endpoint ("Is endpoint registered and reachable?"), and the phone is reported
        unreachable. A 409 on a retry means the first attempt did create the leg (only its
        answer was lost): that is success, not a leg gone — or the seat would be freed while
        the phone rings."""
        for attempt in range(len(self.retry_delays) + 1):
            self.ari_requests += 1
            try:
                await self.client.channels.originate(
                    command.endpoint,
                    app=self.app,
                    app_args=f"leg,{channel_id}",
                    caller_id=command.caller_id or None,
                    timeout=command.timeout,
                    channel_id=command.leg_id,
                )
                return
            except ari_errors.AriConflict:
                if attempt > 0:
                    return
                raise
            except (ari_errors.AriUnavailable, ari_errors.AriConnectionError):
                if attempt == len(self.retry_delays):
                    raise
                await asyncio.sleep(self.retry_delays[attempt])
            except ari_errors.AriServerError as exc:
                if self.phones is not None:
                    self.phones.refused(command.endpoint, exc.detail)
                raise

    async def _ari(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(len(self.retry_delays) + 1):
            self.ari_requests += 1
            try:
                return await fn(*args, **kwargs)
            except TRANSIENT:
                if attempt == len(self.retry_delays):
                    raise
                await asyncio.sleep(self.retry_delays[attempt])
        raise AssertionError("unreachable")

    def _write(self, channel_id: str, command: cmd.RecordCommand) -> None:
        node = self.node
        op: Callable[[Any], object]
        if isinstance(command, cmd.RecordStart):
            op = functools.partial(
                call_log.start_call,
                node=node,
                channel_id=channel_id,
                started_at=command.started_at,
                caller_number=command.caller_number,
                caller_name=command.caller_name,
                dialled_number=command.dialled,
                language=command.language,
                state=dict(command.state),
            )
        elif isinstance(command, cmd.RecordAnswer):
            op = functools.partial(
                call_log.answer_call, node=node, channel_id=channel_id, answered_at=command.at
            )
        elif isinstance(command, cmd.RequestCallback):
            from callbacks import requests as callbacks

            op = functools.partial(
                callbacks.request_callback,
                node=node,
                channel_id=channel_id,
                number=command.number,
                requested_at=command.requested_at,
                source=command.source,
                language=command.language,
            )
        elif isinstance(command, cmd.RecordUpdate):
            op = functools.partial(
                call_log.update_call,
                node=node,
                channel_id=channel_id,
                **cast(dict[str, Any], dict(command.fields)),
            )
        else:
            op = functools.partial(
                call_log.end_call,
                node=node,
                channel_id=channel_id,
                ended_at=command.ended_at,
                hangup_cause=command.hangup_cause,
                hangup_cause_text=command.hangup_cause_text,
                hangup_side=command.hangup_side,
                end_reason=command.end_reason,
                **cast(dict[str, Any], dict(command.fields)),
            )
        self.writer.submit(op)
