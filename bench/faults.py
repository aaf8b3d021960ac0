"""``hotline bench faults``: what survives which fault, each scenario under load.

Every scenario is a run of ``hotline bench load`` (the controller as ``hotline run`` in
its own process) with one fault injected while callers arrive. A scenario passes when:

* no record is lost or duplicated: every call that reached the controller has exactly
  one complete record (calls that came in while no controller was connected hear the
  dialplan's apology and never reach it — ``calls_turned_away``, counted apart);
* the calls placed once the fault is over (plus a few seconds) all went as their callers
  scripted them (``recovered``), for faults that end;
* the fault's own check (below) holds.

Scenarios:

``ws_drop``       the simulator aborts the events WebSocket every ``interval`` s (10);
                  the controller must reconnect after each drop.
``sigkill``       the controller is SIGKILLed a third of the way in and started again at
                  once; the new process reconciles and adopts or ends the calls in flight.
``pg_restart``    PostgreSQL restarted under load (``pg_ctl restart -m fast``). Runs a
                  private cluster (initdb'd for the run, as the postgres user) so the
                  shared server is not disturbed: needs root and the PostgreSQL server
                  binaries, else skipped. Record writes are retried, none dropped.
``ari_503``       every ARI request is answered 503 for 5 s (the simulator's fail-next).
``smtp_down``     the outbox's e-mail (20 notifications) meets a dead SMTP port while the
                  notifications job runs every second: nothing sent, every attempt
                  recorded; then an SMTP server (aiosmtpd) comes up on that port and
                  each message is delivered exactly once (by Message-ID).
``disk_full``     the calls directory is a tmpfs filled to the last byte (root), or a
                  read-only directory (not root); queue callers go to the recorded
                  queues. Calls continue, each failed recording is reported (its row
                  ``failed`` with the reason, a ``recording_failed`` lead alert).
``garbage_menu``  the live menu file is replaced by garbage a third of the way in: the
                  edit is rejected (logged), the last good menu stays live.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import BenchError, counter_delta, free_port
from bench.load import (
    AS_SCRIPTED,
    LoadConfig,
    LoadRun,
    Snapshot,
    latency,
    rates,
    setup_logging,
)
from kernel.settings import Settings

log = logging.getLogger(__name__)

# Calls placed this long after a fault ended must all go as scripted.
SETTLE_AFTER_FAULT = 3.0


class Fault:
    """One scenario: what it needs, what it changes, what it does during the load and
    what it checks afterwards. Subclasses fill in what they need."""

    name = ""
    title = ""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        # Seconds on the run's clock (``LoadRun.now``) from which calls must go as
        # scripted again; None: the fault lasts the whole run.
        self.recovered_from: float | None = None
        self.load_start = 0.0
        # Record-writer operations of controller processes killed during the run.
        self.records_written_earlier = 0.0

    def skip_reason(self) -> str | None:
        return None

    def config(self, base: LoadConfig, site: Settings) -> LoadConfig:
        return base

    def overrides(self, data: dict[str, Any], work: Path) -> None:
        """Changes to the controller's settings (the dict about to be validated)."""

    async def start(self) -> None:
        """Resources the scenario needs before the run (a server, a file system)."""

    async def inject(self, run: LoadRun) -> None:
        """The fault, while the callers arrive (started with them)."""

    async def after_load(self, run: LoadRun) -> None:
        """Once every call has ended and its record is written; the controller still runs."""

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        """The fault's own conditions; each failure as a sentence."""
        return []

    async def close(self) -> None:
        """Undo ``start`` (always called)."""

    async def at(self, run: LoadRun, seconds: float) -> None:
        """Sleep until ``seconds`` after the arrivals started."""
        delay = self.load_start + seconds - run.now()
        if delay > 0:
            await asyncio.sleep(delay)


class WsDrop(Fault):
    name = "ws_drop"
    title = "ARI events WebSocket dropped every {interval:g} s"

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self.title = self.title.format(interval=interval)
        self.metrics_before: dict[str, float] | None = None

    async def inject(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        self.metrics_before = await run.controller.metrics(run.world.http)
        drops, t = 0, self.interval
        while t < run.config.duration:
            await self.at(run, t)
            drops += await run.world.drop_websockets()
            t += self.interval
        self.figures["drops"] = drops

    async def after_load(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        after = await run.controller.metrics(run.world.http)
        reconnects = counter_delta(self.metrics_before, after, "hotline_ari_reconnects_total")
        self.figures["reconnects"] = None if reconnects is None else int(reconnects)

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        drops, reconnects = self.figures.get("drops", 0), self.figures.get("reconnects")
        out = []
        if not drops:
            out.append("no WebSocket was dropped (the load was shorter than the interval)")
        if reconnects is None or reconnects < drops:
            out.append(f"{drops} drops but {reconnects} reconnects")
        return out


class SigKill(Fault):
    name = "sigkill"
    title = "controller SIGKILLed under load and started again"

    async def inject(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        await self.at(run, run.config.duration / 3)
        # Its counters die with it: what it had written so far is read just before.
        metrics = await run.controller.metrics(run.world.http) or {}
        self.records_written_earlier = metrics.get("hotline_records_written_total", 0.0)
        live = await run.live()
        killed = time.monotonic()
        await run.controller.kill()
        await run.controller.start()
        await run.controller.wait_ready(run.world.http)
        self.figures.update(
            calls_live_at_kill=live,
            restart_seconds=round(time.monotonic() - killed, 2),
        )
        self.recovered_from = run.now() + SETTLE_AFTER_FAULT

    async def after_load(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        after = await run.controller.metrics(run.world.http) or {}
        self.figures["calls_adopted_after_restart"] = int(
            after.get("hotline_calls_adopted_total", 0)
        )
        self.figures["controller_starts"] = run.controller.starts

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        assert run.controller is not None
        return [] if run.controller.starts == 2 else ["the controller was not restarted"]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, run as the postgres user."""

    def __init__(self) -> None:
        self.bin = self.find_bin()
        self.dir: Path | None = None
        self.port = 0

    @staticmethod
    def find_bin() -> Path | None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        return Path(found[-1]).parent if found else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise BenchError(f"{' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        assert self.bin is not None
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-bench-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        data = self.dir / "data"
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"
        )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.dir / "log"),
            "-w", "start",
        )  # fmt: skip

    def restart(self) -> None:
        assert self.bin is not None and self.dir is not None
        # With its log file again: without one the server would hold our output pipe.
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def stop(self) -> None:
        if self.bin is None or self.dir is None:
            return
        with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
            self._as_postgres(
                str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"
            )
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


class PgRestart(Fault):
    name = "pg_restart"
    title = "PostgreSQL restarted under load"

    def __init__(self) -> None:
        super().__init__()
        self.pg = PrivatePostgres()
        self.metrics_before: dict[str, float] | None = None

    def skip_reason(self) -> str | None:
        if os.geteuid() != 0:
            return "needs root: it runs a private PostgreSQL cluster as the postgres user"
        if self.pg.bin is None:
            return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl)"
        if shutil.which("runuser") is None:
            return "no runuser to start PostgreSQL as the postgres user"
        return None

    async def start(self) -> None:
        await asyncio.to_thread(self.pg.start)

    def config(self, base: LoadConfig, site: Settings) -> LoadConfig:
        return replace(base, db_url=self.pg.url)

    async def inject(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        self.metrics_before = await run.controller.metrics(run.world.http)
        await self.at(run, run.config.duration / 3)
        began = time.monotonic()
        await asyncio.to_thread(self.pg.restart)
        self.figures["restart_seconds"] = round(time.monotonic() - began, 2)
        self.recovered_from = run.now() + SETTLE_AFTER_FAULT

    async def after_load(self, run: LoadRun) -> None:
        assert run.world is not None and run.controller is not None
        after = await run.controller.metrics(run.world.http)
        for key, name in (
            ("record_write_retries", "hotline_record_write_retries_total"),
            ("record_writes_dropped", "hotline_record_writes_dropped_total"),
        ):
            value = counter_delta(self.metrics_before, after, name)
            self.figures[key] = None if value is None else int(value)

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        dropped = self.figures.get("record_writes_dropped")
        if dropped is None:
            return ["the controller's record-writer counters could not be read"]
        return [f"{dropped} record writes dropped"] if dropped else []

    async def close(self) -> None:
        await asyncio.to_thread(self.pg.stop)


class Ari503(Fault):
    name = "ari_503"
    title = "ARI answering 503 for {seconds:g} s"
    FOREVER = 10**9

    def __init__(self, seconds: float = 5.0) -> None:
        super().__init__()
        self.seconds = seconds
        self.title = self.title.format(seconds=seconds)

    async def inject(self, run: LoadRun) -> None:
        assert run.world is not None
        await self.at(run, run.config.duration / 3)
        await run.world.fail_next(self.FOREVER, 503)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            state = await run.world.state()
            await run.world.fail_next(0)
        self.figures["requests_refused"] = self.FOREVER - int(state["fail_remaining"])
        self.recovered_from = run.now() + SETTLE_AFTER_FAULT

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        refused = self.figures.get("requests_refused", 0)
        return [] if refused else ["no ARI request came in during the 503 window"]


class SmtpDown(Fault):
    name = "smtp_down"
    title = "SMTP down, then back: the outbox delivers once"
    NOTIFICATIONS = 20

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.smtp: Any = None
        self.received: Counter[str] = Counter()
        self.ids: list[int] = []
        self.mailer_level = logging.NOTSET

    async def start(self) -> None:
        # Every failed attempt is a warning; the figures count them instead.
        self.mailer_level = logging.getLogger("hotline.mailer").level
        logging.getLogger("hotline.mailer").setLevel(logging.ERROR)

    def overrides(self, data: dict[str, Any], work: Path) -> None:
        data["smtp"] = {
            **data["smtp"],
            "host": "127.0.0.1",
            "port": self.port,
            "starttls": False,
            "username": "",
            "password": "",
            "timeout": 2.0,
            # Retried every second, so delivery follows the server's return at once.
            "retry_initial": 1.0,
            "retry_factor": 1.0,
            "retry_max": 1.0,
            "max_attempts": 1000,
        }

    def _add_notifications(self, run: LoadRun) -> list[int]:
        from ticketdb.engine import make_engine, make_sessionmaker
        from ticketdb.models import Notification

        engine = make_engine(run.db_url)
        try:
            with make_sessionmaker(engine)() as s:
                now = datetime.now(UTC)
                rows = [
                    Notification(
                        rule=f"bench-{i}",
                        channel="email",
                        recipient=f"quality-{i}@example.com",
                        subject=f"bench notification {i}",
                        body="sent by hotline bench faults --scenario smtp_down",
                        severity="normal",
                        created_at=now,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                    )
                    for i in range(self.NOTIFICATIONS)
                ]
                s.add_all(rows)
                s.commit()
                return [r.id for r in rows]
        finally:
            engine.dispose()

    def _job(self, run: LoadRun) -> str:
        """One run of the notifications job, as the scheduler runs it."""
        from hotline.jobs import notifications
        from hotline.scheduler import JobContext
        from ticketdb.engine import make_engine, make_sessionmaker

        assert run.settings is not None
        engine = make_engine(run.db_url)
        try:
            now = datetime.now(UTC)
            return notifications(JobContext(run.settings, make_sessionmaker(engine), now, now))
        finally:
            engine.dispose()

    def _outbox(self, run: LoadRun) -> dict[str, int]:
        from sqlalchemy import func, select

        from ticketdb.engine import make_engine, make_sessionmaker
        from ticketdb.models import Notification, NotificationAttempt

        engine = make_engine(run.db_url)
        try:
            with make_sessionmaker(engine)() as s:
                statuses = dict(
                    s.execute(
                        select(Notification.status, func.count())
                        .where(Notification.id.in_(self.ids))
                        .group_by(Notification.status)
                    ).all()
                )
                attempts = s.scalar(
                    select(func.count()).where(NotificationAttempt.notification_id.in_(self.ids))
                )
                tried = s.scalar(
                    select(func.count(func.distinct(NotificationAttempt.notification_id))).where(
                        NotificationAttempt.notification_id.in_(self.ids)
                    )
                )
            return {
                "pending": int(statuses.get("pending", 0)),
                "sent": int(statuses.get("sent", 0)),
                "failed": int(statuses.get("failed", 0)),
                "attempts": int(attempts or 0),
                "tried": int(tried or 0),
            }
        finally:
            engine.dispose()

    async def inject(self, run: LoadRun) -> None:
        self.ids = await asyncio.to_thread(self._add_notifications, run)
        until = self.load_start + run.config.duration / 2
        while run.now() < until:
            await asyncio.to_thread(self._job, run)
            await asyncio.sleep(1.0)
        self.figures["while_down"] = await asyncio.to_thread(self._outbox, run)
        await asyncio.to_thread(self._start_smtp)
        self.figures["smtp_up_at_seconds"] = round(run.now() - self.load_start, 1)

    def _start_smtp(self) -> None:
        from aiosmtpd.controller import Controller

        received = self.received

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                text = envelope.content.decode(errors="replace")
                for line in text.splitlines():
                    if line.lower().startswith("message-id:"):
                        received[line.split(":", 1)[1].strip()] += 1
                return "250 OK"

        self.smtp = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.smtp.start()

    async def after_load(self, run: LoadRun) -> None:
        deadline = time.monotonic() + 60
        while True:
            await asyncio.to_thread(self._job, run)
            outbox = await asyncio.to_thread(self._outbox, run)
            if outbox["pending"] == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        self.figures["after_back"] = outbox
        self.figures["messages_received"] = sum(self.received.values())
        self.figures["messages_received_twice"] = sum(1 for n in self.received.values() if n > 1)

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        out = []
        down, back = self.figures.get("while_down", {}), self.figures.get("after_back", {})
        if down.get("sent"):
            out.append(f"{down['sent']} messages marked sent while the server was down")
        if down.get("tried", 0) < self.NOTIFICATIONS:
            out.append(f"only {down.get('tried')} of {self.NOTIFICATIONS} tried while down")
        if back.get("sent") != self.NOTIFICATIONS:
            out.append(
                f"{back.get('sent')} of {self.NOTIFICATIONS} sent after the server came back"
            )
        distinct = len(self.received)
        if distinct != self.NOTIFICATIONS or self.figures.get("messages_received_twice"):
            out.append(
                f"the server got {distinct} distinct messages "
                f"({self.figures.get('messages_received_twice')} twice) for {self.NOTIFICATIONS}"
            )
        return out

    async def close(self) -> None:
        logging.getLogger("hotline.mailer").setLevel(self.mailer_level)
        if self.smtp is not None:
            await asyncio.to_thread(self.smtp.stop)


class DiskFull(Fault):
    name = "disk_full"
    title = "recordings disk full"

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-bench-calls-"))
        self.mounted = False
        self.how = ""

    def skip_reason(self) -> str | None:
        if os.geteuid() == 0 and shutil.which("mount") is None:
            return (
                "root, but no mount to make a full tmpfs (a read-only directory does not stop root)"
            )
        return None

    async def start(self) -> None:
        if os.geteuid() != 0:
            self.dir.chmod(0o555)
            self.how = f"read-only directory {self.dir} (not root: no tmpfs)"
            return
        done = await asyncio.to_thread(
            subprocess.run,
            ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(self.dir)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BenchError(f"cannot mount a tmpfs at {self.dir}: {done.stderr.strip()}")
        self.mounted = True
        filler = self.dir / "filler"
        # To the last block (ENOSPC); closing the file may fail the same way.
        with contextlib.suppress(OSError), filler.open("wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        self.how = f"256 KiB tmpfs at {self.dir}, filled"
        self.figures["calls_dir"] = self.how

    def config(self, base: LoadConfig, site: Settings) -> LoadConfig:
        from agents.queue_config import load_queues

        # Queue callers go to the queues that record their calls.
        catalog = load_queues(site.paths.queues_file)
        recorded = tuple(n for n, c in catalog.configs.items() if c.record)
        if not recorded:
            raise BenchError("no queue records its calls (record: true): nothing to fill a disk")
        return replace(base, queues=recorded)

    def overrides(self, data: dict[str, Any], work: Path) -> None:
        data["paths"] = {**data["paths"], "calls_dir": str(self.dir)}

    def _recordings(self, run: LoadRun) -> dict[str, Any]:
        from sqlalchemy import func, select

        from ticketdb.engine import make_engine, make_sessionmaker
        from ticketdb.models import LeadAlert, Recording

        engine = make_engine(run.db_url)
        try:
            with make_sessionmaker(engine)() as s:
                statuses = dict(
                    s.execute(
                        select(Recording.status, func.count()).group_by(Recording.status)
                    ).all()
                )
                error = s.scalar(
                    select(Recording.error).where(Recording.status == "failed").limit(1)
                )
                alerts = s.scalar(select(func.count()).where(LeadAlert.kind == "recording_failed"))
            return {
                "recordings": {k: int(v) for k, v in statuses.items()},
                "example_error": error,
                "recording_failed_alerts": int(alerts or 0),
            }
        finally:
            engine.dispose()

    async def after_load(self, run: LoadRun) -> None:
        # Saving runs in the background after the call: give the last ones time to fail.
        deadline = time.monotonic() + 30
        while True:
            figures = await asyncio.to_thread(self._recordings, run)
            if not figures["recordings"].get("recording") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        self.figures.update(figures)

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        out = []
        recordings = self.figures.get("recordings", {})
        if not recordings.get("failed"):
            out.append("no recording failed: the disk was not full where calls are saved")
        if recordings.get("stored"):
            out.append(f"{recordings['stored']} recordings stored on a full disk")
        error = str(self.figures.get("example_error") or "")
        words = ("space", "ENOSPC", os.strerror(errno.ENOSPC), "ermission", "Read-only")
        if recordings.get("failed") and not any(w in error for w in words):
            out.append(f"the failure's reason does not say why: {error!r}")
        if not self.figures.get("recording_failed_alerts"):
            out.append("no recording_failed alert for the lead")
        if not records.get("answered"):
            out.append("no call was answered: calls did not continue")
        return out

    async def close(self) -> None:
        if self.mounted:
            await asyncio.to_thread(subprocess.run, ["umount", str(self.dir)], check=False)
        with contextlib.suppress(OSError):
            self.dir.chmod(0o755)
        shutil.rmtree(self.dir, ignore_errors=True)


class GarbageMenu(Fault):
    name = "garbage_menu"
    title = "live menu file replaced by garbage"
    GARBAGE = "menu: [this is not\n  a menu: {at all\n\t\x00\x7f"

    def __init__(self) -> None:
        super().__init__()
        self.log_mark = 0

    async def inject(self, run: LoadRun) -> None:
        assert run.settings is not None
        await self.at(run, run.config.duration / 3)
        path = run.work / "menus" / f"{run.settings.ivr.menu}.yaml"
        self.figures["replaced_at_seconds"] = round(run.now() - self.load_start, 1)
        self.log_mark = len(run.controller.log_text()) if run.controller else 0
        path.write_text(self.GARBAGE)
        # The registry acts on a change seen unchanged on two polls.
        self.recovered_from = run.now() + 2 * run.settings.ivr.reload_interval + SETTLE_AFTER_FAULT

    def check(self, run: LoadRun, records: Mapping[str, Any]) -> list[str]:
        assert run.controller is not None
        after = run.controller.log_text()[self.log_mark :]
        messages = []
        for line in after.splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                messages.append(str(json.loads(line).get("msg", "")))
        rejected = [m for m in messages if "menu edit rejected" in m]
        reloaded = [m for m in messages if "reloaded" in m and "live" in m]
        self.figures["rejections_logged"] = len(rejected)
        self.figures["rejection"] = rejected[0].splitlines()[:3] if rejected else None
        out = []
        if not rejected:
            out.append("the garbage menu was not reported as rejected")
        if reloaded:
            out.append(f"a menu was reloaded after the garbage: {reloaded[0]!r}")
        return out


def scenarios() -> dict[str, type[Fault]]:
    return {
        f.name: f for f in (WsDrop, SigKill, PgRestart, Ari503, SmtpDown, DiskFull, GarbageMenu)
    }


async def run_scenario(site: Settings, base: LoadConfig, fault: Fault) -> dict[str, Any]:
    """One scenario under load, with its verdict."""
    head: dict[str, Any] = {"scenario": fault.name, "title": fault.title}
    reason = fault.skip_reason()
    if reason is not None:
        return {**head, "verdict": "skipped", "reason": reason}
    try:
        await fault.start()
        config = fault.config(base, site)
        async with LoadRun(site, config, overrides=fault.overrides) as run:
            before = await run.snapshot()
            fault.load_start = run.now()
            injecting = asyncio.create_task(fault.inject(run), name=f"fault-{fault.name}")
            try:
                await run.offer()
                await injecting
            finally:
                if not injecting.done():
                    injecting.cancel()
            forced = await run.drain()
            after = await run.snapshot()
            settled = await run.settle()
            await fault.after_load(run)
            status = await run.stop_controller()
            records = await asyncio.to_thread(run.records)
            outcomes = records.pop("_outcomes")
            result = {
                **head,
                "command": f"{config.command('faults')} --scenario {fault.name}",
                "database": run.db_url.split(":", 1)[0],
                **_summary(records),
                "calls_forced_off": forced,
                "records_settled": settled,
                **_recovery(run, fault, outcomes),
                "fault": fault.figures,
                **_rates_and_latency(before, after, fault),
                "controller_exit_status": status,
                "controller_log": run.controller_log(),
            }
            failures = _failures(result) + fault.check(run, records)
            result["fault"] = fault.figures  # check() may add figures
    finally:
        await fault.close()
    result["failures"] = failures
    result["verdict"] = "pass" if not failures else "fail"
    return result


def _summary(records: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "offered",
        "answered",
        "abandoned",
        "self_served",
        "callbacks",
        "refused",
        "calls_turned_away",
        "calls_as_scripted",
        "not_as_scripted",
        "records_complete",
        "records_lost",
        "records_duplicated",
        "outcomes",
    )
    return {k: records[k] for k in keys}


def _recovery(run: LoadRun, fault: Fault, outcomes: Mapping[str, str]) -> dict[str, Any]:
    if fault.recovered_from is None:
        return {"recovered_from_seconds": None}
    after = [a for a in run.arrivals.values() if a.placed_at >= fault.recovered_from]
    good = [a for a in after if outcomes.get(a.channel_id) in AS_SCRIPTED[a.behaviour]]
    return {
        "recovered_from_seconds": round(fault.recovered_from - fault.load_start, 1),
        "calls_after_fault": len(after),
        "calls_after_fault_as_scripted": len(good),
    }


def _rates_and_latency(before: Snapshot, after: Snapshot, fault: Fault) -> dict[str, Any]:
    figures = {**latency(after.sim), **rates(before, after, fault.records_written_earlier)}
    figures.pop("reactions_by_cause", None)
    return figures


def _failures(r: Mapping[str, Any]) -> list[str]:
    out = []
    if r["records_lost"] or r["records_duplicated"]:
        out.append(f"records lost {r['records_lost']}, duplicated {r['records_duplicated']}")
    if not r["records_settled"]:
        out.append("records stopped completing before every call had one")
    if r["recovered_from_seconds"] is not None:
        n, good = r["calls_after_fault"], r["calls_after_fault_as_scripted"]
        if n == 0:
            out.append("no call was placed after the fault: the load was too short to tell")
        elif good < n:
            out.append(f"only {good} of {n} calls placed after the fault went as scripted")
    return out


async def run_faults(
    site: Settings, base: LoadConfig, names: list[str] | None = None
) -> list[dict[str, Any]]:
    known = scenarios()
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise BenchError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}")
    results = []
    for name in names or list(known):
        fault = known[name]()
        try:
            results.append(await run_scenario(site, base, fault))
        except Exception as exc:  # one broken scenario must not hide the others' verdicts
            log.exception("scenario %s could not run", name)
            results.append(
                {
                    "scenario": name,
                    "title": fault.title,
                    "verdict": "fail",
                    "reason": f"the scenario could not run: {type(exc).__name__}: {exc}",
                }
            )
    return results


def format_report(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r['scenario']:<13} {r['verdict'].upper():<8} {r['title']}")
        if "reason" in r:  # skipped, or could not run
            lines.append(f"    {r['reason']}")
            continue
        lines.append(
            f"    calls {r['offered']} (turned away {r['calls_turned_away']}, hung up at the "
            f"end {r['calls_forced_off']}), records complete {r['records_complete']} / lost "
            f"{r['records_lost']} / duplicated {r['records_duplicated']}; as scripted "
            f"{r['calls_as_scripted']}"
        )
        if r["recovered_from_seconds"] is not None:
            lines.append(
                f"    after the fault (from {r['recovered_from_seconds']} s): "
                f"{r['calls_after_fault_as_scripted']} of {r['calls_after_fault']} as scripted"
            )
        fault = ", ".join(f"{k} {v}" for k, v in r["fault"].items())
        lines.append(f"    fault: {fault}")
        lines.extend(f"    FAILED: {f}" for f in r["failures"])
    return "\n".join(lines)


def main(
    site: Settings,
    config: LoadConfig,
    *,
    scenarios: list[str] | None,
    as_json: bool,
    verbose: bool = False,
) -> int:
    """The CLI: 0 when every scenario run passed, 1 when one failed, 2 when it cannot
    run as asked."""
    setup_logging(verbose)
    try:
        results = asyncio.run(run_faults(site, config, scenarios))
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results, ensure_ascii=False, indent=2) if as_json else format_report(results))
    return 1 if any(r["verdict"] == "fail" for r in results) else 0
