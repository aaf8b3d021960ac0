"""The site's rule files as the ticket features read them: the ticket rules
(``paths.tickets_file``; built-in defaults without one) and the business calendars
(``paths.calendar_file``: time zone, working days, holidays).

One loader for the CLI, the web app and the scheduled jobs, so all three agree on what
a day is and which rules apply. Nothing heavy is imported until a file is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from kernel.calendar import BusinessCalendar, Calendars
    from kernel.settings import Settings
    from tickets.config import TicketRules


class SiteError(Exception):
    """A configuration problem, phrased as the one line to show."""


@dataclass(frozen=True)
class TicketSite:
    """The ticket rules and the business calendars this site runs on."""

    rules: TicketRules
    calendars: Calendars | None  # None: no calendar file

    @property
    def tz(self) -> ZoneInfo:
        """The calendar file's zone; UTC when there is no calendar file."""
        return self.calendars.timezone if self.calendars is not None else ZoneInfo("UTC")

    def sla_calendar(self) -> BusinessCalendar:
        """The calendar the SLA rules name; SiteError when it is missing."""
        if self.calendars is None:
            raise SiteError(
                "SLA targets count working days: no calendar file (paths.calendar_file)"
            )
        try:
            return self.calendars.get(self.rules.sla.calendar)
        except KeyError as exc:
            raise SiteError(f"sla.calendar: {exc.args[0]}") from None


def load_ticket_site(settings: Settings) -> TicketSite:
    """The rules of ``paths.tickets_file`` (``default_rules()`` without one) and the
    calendars of ``paths.calendar_file``. TicketRulesError or CalendarError for a broken
    file."""
    from kernel.calendar import load_calendars
    from tickets.config import default_rules, load_rules

    path = settings.paths.tickets_file
    rules = load_rules(path) if path.exists() else default_rules()
    cal_path = settings.paths.calendar_file
    return TicketSite(rules, load_calendars(cal_path) if cal_path.exists() else None)
