"""Call recordings from Asterisk to the calls directory, and their rows in the database.

The controller's executor hands this store what the call machines decide: a recording
started (or could not start), a recording to save. Saving runs in the background — a
caller never waits for a file — and goes:

1. wait until Asterisk has finished the recording (``GET /recordings/live/{name}`` says
   it is done or no longer knows it); one still running after ``finish_timeout`` is
   stopped (``POST …/stop``);
2. fetch the file (``GET /recordings/stored/{name}/file``), retried while Asterisk is
   still closing it or unreachable;
3. write it to ``<calls_dir>/YYYY/MM/DD/<channel-id>[-<part>].wav`` (the call's start
   date in UTC; the channel id is the call record's key), through a temporary file so
   a half-written recording is never served;
4. record size and duration (from the WAV header) and link the call to it, then delete
   Asterisk's copy so its spool does not fill up.

Any failure — Asterisk refusing, the file missing, the disk full, the directory not
writable — leaves the recording's row ``failed`` with the reason, is logged, and raises
a "recording_failed" alert for the lead; the recording then stays in Asterisk's spool
when it was made, for someone to rescue. Database writes go through the record writer,
in order with the call's own records.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import io
import logging
import re
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from agents import lead_store
from ivr.ari import errors as ari_errors
from ivr.call import commands as cmd
from ivr.runtime.executor import Writer
from ticketdb import recordings as rows

log = logging.getLogger(__name__)

ALERT_KIND = "recording_failed"
FETCH_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def relative_path(call_started_at: datetime, channel_id: str, part: int = 1) -> str:
    """``YYYY/MM/DD/<channel-id>[-<part>].wav`` for a call started at ``call_started_at``
    (its UTC date); characters a file name should not have become ``_``."""
    day = call_started_at.astimezone(UTC)
    stem = _UNSAFE.sub("_", channel_id).lstrip(".") or "call"
    suffix = f"-{part}" if part > 1 else ""
    return str(PurePosixPath(f"{day:%Y}", f"{day:%m}", f"{day:%d}", f"{stem}{suffix}.wav"))


def wav_duration(data: bytes) -> float:
    """Seconds of audio in a WAV file's bytes, from its header (``wave.Error`` if it is
    not a WAV)."""
    with wave.open(io.BytesIO(data), "rb") as w:
        rate = w.getframerate()
        if rate <= 0:
            raise wave.Error("sample rate is 0")
        return w.getnframes() / float(rate)


def write_file(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` (directories made) via a temporary file; its size.

    OSError as the file system gives it (ENOSPC, EACCES, ENOTDIR …); nothing is left
    behind on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path.stat().st_size


def describe_os_error(exc: OSError, path: Path) -> str:
    """One line for an operator: what, where, and the errno name (ENOSPC …)."""
    code = errno.errorcode.get(exc.errno or 0, "")
    what = exc.strerror or str(exc)
    return f"cannot write {path}: {what}" + (f" ({code})" if code else "")


class RecordingStore:
    """Saves recordings for one controller node (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        writer: Writer,
        calls_dir: Path,
        node: str,
        clock: Callable[[], datetime],
        *,
        finish_timeout: float = 10.0,
        fetch_timeout: float = 300.0,
        fetch_retry_delays: tuple[float, ...] = FETCH_RETRY_DELAYS,
    ) -> None:
        self.client = client
        self.writer = writer
        self.calls_dir = Path(calls_dir)
        self.node = node
        self.clock = clock
        self.finish_timeout = finish_timeout
        self.fetch_timeout = fetch_timeout
        self.fetch_retry_delays = fetch_retry_delays
        self.stored = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._started: dict[str, datetime] = {}

    # -- what the executor calls --------------------------------------------------------

    def started(self, channel_id: str, command: cmd.StartRecording, at: datetime) -> None:
        self._started[command.name] = at
        self.writer.submit(
            functools.partial(
                rows.recording_started,
                node=self.node,
                channel_id=channel_id,
                name=command.name,
                started_at=at,
            )
        )

    def start_failed(
        self, channel_id: str, command: cmd.StartRecording, at: datetime, error: str
    ) -> None:
        self._failed(channel_id, command.name, at, f"could not start recording: {error}")

    def save(self, channel_id: str, command: cmd.SaveRecording) -> None:
        """Save in the background; the call goes on at once."""
        task = asyncio.create_task(self._save(channel_id, command), name=f"save-{command.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait for the saves under way; those still running after ``timeout`` are
        abandoned (their rows stay ``recording``, the files stay in Asterisk)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            log.warning("recording %s: not saved before shutdown", task.get_name()[5:])
            task.cancel()

    # -- saving ---------------------------------------------------------------------------

    async def _save(self, channel_id: str, command: cmd.SaveRecording) -> None:
        name = command.name
        started_at = self._started.pop(name, None) or self.clock()
        try:
            await self._save_steps(channel_id, command, started_at)
        except Exception as exc:  # a bug here must still leave a trace on the row
            log.exception("recording %s: saving failed unexpectedly", name)
            self._failed(channel_id, name, started_at, f"internal error: {exc}")

    async def _save_steps(
        self, channel_id: str, command: cmd.SaveRecording, started_at: datetime
    ) -> None:
        name = command.name
        if command.error is not None:
            self._failed(channel_id, name, started_at, f"Asterisk: {command.error}")
            return
        try:
            await self._wait_finished(name)
            data = await self._fetch(name)
        except ari_errors.AriError as exc:
            self._failed(channel_id, name, started_at, f"could not fetch from Asterisk: {exc}")
            return
        try:
            duration = wav_duration(data)
        except (wave.Error, EOFError) as exc:
            self._failed(channel_id, name, started_at, f"Asterisk's file is not a WAV: {exc}")
            return
        relative = relative_path(command.call_started_at, channel_id, command.part)
        target = self.calls_dir / relative
        try:
            size = await asyncio.to_thread(write_file, target, data)
        except OSError as exc:
            reason = describe_os_error(exc, target)
            self._failed(channel_id, name, started_at, f"{reason}; kept in Asterisk as {name}")
            return
        self.stored += 1
        self.writer.submit(
            functools.partial(
                rows.recording_stored,
                node=self.node,
                channel_id=channel_id,
                name=name,
                started_at=started_at,
                finished_at=self.clock(),
                path=relative,
                size_bytes=size,
                duration_seconds=round(duration, 3),
            )
        )
        log.info("call %s: recording stored at %s (%.1f s)", channel_id, target, duration)
        try:
            await self.client.recordings.delete_stored(name)
        except ari_errors.AriError as exc:  # ours is safe; Asterisk's copy is only extra
            log.warning("recording %s: could not delete Asterisk's copy: %s", name, exc)

    async def _wait_finished(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.finish_timeout
        delay = 0.05
        while True:
            try:
                live = await self.client.recordings.get_live(name)
            except ari_errors.AriNotFound:
                return  # finished: Asterisk only lists recordings in progress
            except (ari_errors.AriUnavailable, ari_errors.AriConnectionError):
                live = None
            if live is not None and live.state not in ("queued", "recording", "paused"):
                return
            if loop.time() >= deadline:
                log.warning("recording %s: still running; stopping it", name)
                with contextlib.suppress(ari_errors.AriNotFound):
                    await self.client.recordings.stop_live(name)
                return
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def _fetch(self, name: str) -> bytes:
        delays = iter(self.fetch_retry_delays)
        while True:
            try:
                data: bytes = await self.client.recordings.get_stored_file(
                    name, timeout=self.fetch_timeout
                )
                return data
            except (
                ari_errors.AriNotFound,  # not closed yet, just after it stopped
                ari_errors.AriUnavailable,
                ari_errors.AriConnectionError,
                ari_errors.AriServerError,
            ):
                delay = next(delays, None)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    def _failed(self, channel_id: str, name: str, started_at: datetime, error: str) -> None:
        self.failed += 1
        now = self.clock()
        log.error("call %s: recording %s failed: %s", channel_id, name, error)
        self.writer.submit(
            functools.partial(
                rows.recording_failed,
                node=self.node,
                channel_id=channel_id,
                name=name,
                started_at=started_at,
                finished_at=now,
                error=error,
            )
        )
        self.writer.submit(
            functools.partial(
                lead_store.raise_alert,
                kind=ALERT_KIND,
                severity="warning",
                message=f"A call recording could not be kept ({name}): {error}",
                agent_id=None,
                node=self.node,
                now=now,
            )
        )
