"""The staff roles, defined once: every check of who may do what (the pages, the API, the
command line, the database's CHECK constraint, the shift rules) reads them from here."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    ADMIN = "admin"


# Plain strings (an agent row's role is a string): the groups the rules speak of.
ALL_ROLES: tuple[str, ...] = tuple(r.value for r in Role)
# Who leads the floor: approves away requests, sees the wallboard and the reports.
LEAD_ROLES: tuple[str, ...] = (Role.LEAD.value, Role.ADMIN.value)
# Who takes calls at a seat (admins have none): the desk, the shift rules, the wallboard.
SEAT_ROLES: tuple[str, ...] = (Role.AGENT.value, Role.LEAD.value)
