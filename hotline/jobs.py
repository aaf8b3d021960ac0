"""The timed jobs, by name, with their schedules from the settings.

Each job function takes a ``JobContext`` and returns one short line saying what it did
(shown by ``hotline jobs``). Jobs read their rule files (tickets, calendar, shifts) on
every run, so an edit applies from the next run and a broken file shows as a failed run
with the file's one-line error. The work itself lives in the ``ticketdb``/``hotline``
modules named in each job; they are imported when the job runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hotline.scheduler import JobContext, JobSpec, daily, every
from kernel.calendar import BusinessCalendar, load_calendars
from kernel.settings import Settings
from tickets.config import TicketRules
from tickets.site import load_ticket_site

if TYPE_CHECKING:
    from agents.shifts import ShiftConfig

log = logging.getLogger(__name__)

CALLBACKS_EVERY = 300.0
NOTIFICATIONS_EVERY = 30.0
STAFFING_EVERY = 60.0
# How far back the delivery job re-checks tickets' escalations.
ESCALATION_CATCH_UP = timedelta(hours=1)


def business_timezone(settings: Settings) -> ZoneInfo:
    """The calendar file's time zone, in which daily jobs run; UTC without a file."""
    path = settings.paths.calendar_file
    if not path.exists():
        log.warning("no calendar file at %s: daily jobs run on UTC time", path)
        return ZoneInfo("UTC")
    return load_calendars(path).timezone


def ticket_rules(settings: Settings) -> TicketRules:
    return load_ticket_site(settings).rules


def business_calendar(settings: Settings, name: str) -> BusinessCalendar:
    """The working-day calendar ``name`` of the calendar file (the IVR's)."""
    path = settings.paths.calendar_file
    if not path.exists():
        raise FileNotFoundError(f"{path}: calendar file not found (paths.calendar_file)")
    return load_calendars(path).get(name)


def shift_config(settings: Settings) -> ShiftConfig | None:
    """The shift rules (with the calendar's holidays), or None without a shifts file."""
    from agents.shift_file import load_shifts

    path, calendar = settings.paths.shifts_file, settings.paths.calendar_file
    if not path.exists():
        return None
    return load_shifts(path, load_calendars(calendar) if calendar.exists() else None)


def dispatch(ctx: JobContext) -> str:
    """The day's orders onto the dispatch lists (the day of the scheduled time, local)."""
    from tickets.dispatch_store import run_dispatch

    rules = ticket_rules(ctx.settings)
    tz = business_timezone(ctx.settings)
    day = ctx.scheduled_at.astimezone(tz).date()
    with ctx.sessions() as s:
        r = run_dispatch(s, rules, tz, day, ctx.settings.tickets.dispatch_time, ctx.now)
    lists = ", ".join(f"{channel} {len(ids)}" for channel, ids in r.dispatched.items())
    return (
        f"{r.day}: dispatched {lists or 'nothing'}; out of area {len(r.out_of_area)} "
        f"({r.apologies} apology call(s)); unrouted {len(r.unrouted)}"
    )


def sla_sweep(ctx: JobContext) -> str:
    from tickets.sla_store import sweep

    rules = ticket_rules(ctx.settings)
    calendar = business_calendar(ctx.settings, rules.sla.calendar)
    with ctx.sessions() as s:
        r = sweep(s, rules, calendar, ctx.now, ctx.settings.tickets.sla_near_fraction)
    states = ", ".join(f"{state} {n}" for state, n in r.counts.items() if n)
    return (
        f"{r.tickets} live ticket(s) ({states or 'no targets'}); "
        f"{r.written} row(s) written, {r.settled} settled"
    )


def callbacks(ctx: JobContext) -> str:
    """Generate the callback worklist and share it out across the agents on shift."""
    from callbacks.sources import generate
    from callbacks.worklist import agents_on_shift, share_out

    rules = ticket_rules(ctx.settings)
    calendar = business_calendar(ctx.settings, rules.sla.calendar)
    shifts = shift_config(ctx.settings)
    with ctx.sessions() as s:
        made = generate(s, ctx.settings.callbacks, calendar, ctx.now)
        agents = agents_on_shift(s, shifts, ctx.now)
        given = share_out(s, agents, ctx.now)
    return (
        f"added {made.added} (complaint {made.complaint}, member {made.member}, "
        f"survey {made.survey}; {len(made.skipped)} skipped); "
        f"shared {len(given)} among {len(agents)} agent(s) on shift"
    )


def notifications(ctx: JobContext) -> str:
    """Catch up escalations a crash may have cut off, then deliver the due e-mail."""
    from hotline.mailer import deliver_due
    from tickets.escalation_store import escalate_recent

    with ctx.sessions() as s:
        caught = escalate_recent(
            s, ticket_rules(ctx.settings), ctx.now, ctx.now - ESCALATION_CATCH_UP
        )
    r = deliver_due(ctx.sessions, ctx.settings.smtp, ctx.now)
    sent = r.note or f"sent {r.sent}, failed {r.failed}, {r.remaining} still pending"
    return f"{sent}; {caught} late escalation notice(s)" if caught else sent


def retention(ctx: JobContext) -> str:
    from hotline.retention import purge

    s = ctx.settings
    report = purge(
        ctx.sessions, s.paths.calls_dir, s.retention.days, ctx.now, dry_run=False, by="scheduler"
    )
    return f"run {report.run_id}: {report.summary()}"


def staffing(ctx: JobContext) -> str:
    """The roster's staffing alerts (``agents.lead_watch``). A fresh watch each run:
    it resyncs with the stored alerts, so it agrees with the queue engine's own watch;
    handover notes stay with that watch, which sees every shift change as it happens."""
    from agents.lead_watch import LeadWatch

    s = ctx.settings
    config = shift_config(s)
    if config is None:
        return f"no shifts file at {s.paths.shifts_file}: nothing to check"
    now = ctx.now
    changes = LeadWatch(ctx.sessions, config, s.node.name, lambda: now).tick()
    return (
        f"{len(changes.active)} staffing alert(s) open: "
        f"{len(changes.raised)} raised, {len(changes.cleared)} cleared"
    )


def registry(settings: Settings) -> list[JobSpec]:
    """Every timed job, with its schedule from ``settings`` (daily ones in the calendar
    file's time zone)."""
    tz = business_timezone(settings)
    t = settings.tickets
    return [
        JobSpec(
            "dispatch",
            daily(t.dispatch_time, tz),
            dispatch,
            "the day's orders onto dispatch lists by customer channel",
        ),
        JobSpec(
            "sla_sweep",
            every(t.sla_sweep_seconds),
            sla_sweep,
            "SLA states of live tickets: breaches and near-breaches for the wallboard",
        ),
        JobSpec(
            "callbacks",
            every(CALLBACKS_EVERY),
            callbacks,
            "callback worklist: generate, then share out across agents on shift",
        ),
        JobSpec(
            "notifications",
            every(NOTIFICATIONS_EVERY),
            notifications,
            "deliver due e-mail from the notification outbox",
        ),
        JobSpec(
            "retention",
            daily(settings.retention.run_at, tz),
            retention,
            "purge recordings and call ledgers older than the retention period",
        ),
        JobSpec("staffing", every(STAFFING_EVERY), staffing, "staffing alerts from the roster"),
    ]
