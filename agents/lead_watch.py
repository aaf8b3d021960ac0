"""The lead's watch: every tick, the staffing alerts of the roster stored as events, and
an automatic handover note at each shift change.

``agents.shifts`` decides what is wrong from a roster snapshot; this loop only reads the
snapshot, feeds the ``AlertMonitor`` and writes what changed (``agents.lead_store``).
One node runs it (the caller's choice): the monitor's memory is this process's.

After a start, or a tick that failed part-way, the monitor's memory and the stored
alerts may disagree (a node died with alerts open, or a raise was never written), so the
next tick *resyncs*: open rows of the monitor's kinds that are no longer true are
cleared, and alerts already open are not raised again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.lead_store import add_handover_note, open_alerts, record_alert_changes
from agents.roster import read_roster
from agents.seat_store import SYSTEM
from agents.shifts import (
    Alert,
    AlertChanges,
    AlertKind,
    AlertMonitor,
    Severity,
    ShiftChange,
    ShiftConfig,
    handover_due,
)
from ticketdb.models import HandoverNote

log = logging.getLogger(__name__)

# The kinds the monitor owns; others (e.g. "missed_calls") are raised and cleared elsewhere.
MONITORED_KINDS: frozenset[str] = frozenset(get_args(AlertKind))


def describe_change(change: ShiftChange) -> str:
    """``"Shift change: day ends, evening starts"``."""
    parts = [f"{n} ends" for n in change.ending] + [f"{n} starts" for n in change.starting]
    parts += [f"{n} continues" for n in change.continuing]
    return f"Shift change: {', '.join(parts)}"


class LeadWatch:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: ShiftConfig,
        node: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._node = node
        self._clock = clock
        self._monitor = AlertMonitor()
        self._previous: datetime | None = None  # the last tick that completed
        self._resync = True

    def tick(self) -> AlertChanges:
        """One look at the roster: record raised/cleared alerts and any handover due since
        the previous tick. Returns the alert changes as stored."""
        now = self._clock()
        if self._previous is not None and now < self._previous:
            log.warning("the clock went back from %s to %s; starting afresh", self._previous, now)
            self._restart()
        try:
            with self._sessions() as s:
                changes = self._monitor.feed(read_roster(s, self._config), now)
                if self._resync:
                    changes = self._resynced(s, changes)
                record_alert_changes(s, changes, node=self._node, now=now)
                self._resync = False
                if self._previous is not None:
                    for change in handover_due(self._config.schedule, self._previous, now):
                        self._write_handover(s, change)
        except BaseException:
            # The monitor may now believe something the database doesn't show.
            self._monitor = AlertMonitor()
            self._resync = True
            raise
        self._previous = now
        return changes

    async def run(self, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds until cancelled; a failed tick is logged and
        the next one tries again (a missed handover included)."""
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("lead watch tick failed; trying again in %.1f s", interval)
            await asyncio.sleep(interval)

    def _restart(self) -> None:
        self._monitor = AlertMonitor()
        self._previous = None
        self._resync = True

    def _resynced(self, s: Session, changes: AlertChanges) -> AlertChanges:
        """``changes`` from a fresh monitor, made to match the stored alerts."""
        stored = {(r.kind, r.agent_id): r for r in open_alerts(s) if r.kind in MONITORED_KINDS}
        active = {a.key for a in changes.active}
        stale = tuple(
            Alert(cast(AlertKind, r.kind), cast(Severity, r.severity), r.message, r.agent_id)
            for key, r in stored.items()
            if key not in active
        )
        raised = tuple(a for a in changes.raised if a.key not in stored)
        return AlertChanges(raised, changes.cleared + stale, changes.active)

    def _write_handover(self, s: Session, change: ShiftChange) -> None:
        schedule = self._config.schedule
        ending = {n: schedule.shift(n).teams for n in change.ending}
        starting = {n: schedule.shift(n).teams for n in change.starting}
        teams = sorted(set[str]().union(*ending.values(), *starting.values()))
        text = describe_change(change)
        for team in teams:
            # A tick that failed after some teams' notes retries them all: skip those.
            done = s.scalar(
                select(HandoverNote.id).where(
                    HandoverNote.team == team,
                    HandoverNote.at == change.at,
                    HandoverNote.author == SYSTEM,
                )
            )
            if done is not None:
                continue
            add_handover_note(
                s,
                team=team,
                author=SYSTEM,
                text=text,
                now=change.at,
                # A team works at most one shift at a time, so at most one of each.
                shift_ending=next((n for n, t in ending.items() if team in t), None),
                shift_starting=next((n for n, t in starting.items() if team in t), None),
            )
