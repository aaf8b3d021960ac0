"""The admin pages, for admins only (leads and agents get 403): users, agents and their
skills, the queues with their live lengths, the voice menus drawn from the live menu
files, the shift rules, and the checks of every configuration file.

Changes are HTML forms (with the ``csrf_token`` field) posted here; a change that is
made redirects back with a message (post/redirect/get), a refused one shows its page
again with the reason (4xx). Every account change is written to the audit log by the
functions ``hotline users`` uses too (``hotline.cli.users``: action ``change`` on object
``user``, with the admin's staff number), and the users page lists the latest.

Configuration files are read on every page load (``webapp.admin_config``), so an edit
shows at once and a broken file shows its ``file:line`` message, never a traceback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from agents import lead_store
from agents.accounts import (
    LastAdmin,
    UserExists,
    create_user,
    log_user_change,
    reset_password,
    set_active,
    set_role,
)
from agents.seat_store import (
    UnknownAgent,
    agent_by_staff_number,
    list_seats,
    parse_skill,
    set_skills,
)
from kernel.clock import utcnow
from kernel.roles import ALL_ROLES
from kernel.settings import Settings
from ticketdb.models import Agent, AuditEntry
from webapp import admin_config
from webapp.auth import login_required, me
from webapp.db import db
from webapp.i18n import current_language, translate
from webapp.live import event_stream
from webapp.menu_diagram import DEFAULT_LABELS, menu_svg
from webapp.pages import page_required, render_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
live_bp = Blueprint("admin_live", __name__, url_prefix="/live/admin")

ADMIN = ("admin",)
TABS = ("users", "agents", "queues", "menus", "shifts", "checks")
RECENT_CHANGES = 30
# A live stream ends after this long; the browser reconnects by itself.
STREAM_SECONDS = 300.0

Page = str | tuple[str, int]


def _settings() -> Settings:
    found: Settings = current_app.extensions["hotline.settings"]
    return found


def _render(tab: str, status: int = 200, error: str | None = None, **context: Any) -> Page:
    """A tab of the admin pages, with the count of configuration problems on every tab."""
    checks = admin_config.run_checks(_settings())
    html = render_page(
        f"admin_{tab}.html",
        i18n_prefixes=("admin.",),
        tab=tab,
        tabs=TABS,
        config_problems=checks.problems,
        error=error,
        **context,
    )
    return (html, status) if status != 200 else html


def _done(endpoint: str, key: str, **values: object) -> WerkzeugResponse:
    flash(translate(key, **values), "ok")
    return redirect(url_for(endpoint), code=303)


def _refused(exc: Exception) -> str:
    return translate("admin.error.refused", message=str(exc))


# --- users -----------------------------------------------------------------------------


def _users_page(
    status: int = 200, error: str | None = None, form: MultiDict[str, str] | None = None
) -> Page:
    s = db()
    users = list(s.scalars(select(Agent).order_by(Agent.staff_number)))
    changes = list(
        s.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "user")
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(RECENT_CHANGES)
        )
    )
    shifts = admin_config.read_shifts(_settings(), admin_config.read_calendars(_settings()))
    teams = sorted(shifts.value.teams) if shifts.value is not None else []
    return _render(
        "users",
        status,
        error,
        users=users,
        changes=changes,
        roles=ALL_ROLES,
        teams=teams,
        form=form or MultiDict(),
    )


@bp.get("")
@page_required(roles=ADMIN)
def page() -> Page:
    return _users_page()


@bp.post("/users")
@page_required(roles=ADMIN)
def add_user() -> Page | WerkzeugResponse:
    form = request.form
    admin = me()
    try:
        user = create_user(
            db(),
            staff_number=form.get("staff_number", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
            password=form.get("password", ""),
            team=form.get("team", ""),
            endpoint=form.get("endpoint", "").strip() or None,
            by=admin.staff_number,
            by_role=admin.role,
        )
    except UserExists as exc:
        return _users_page(409, _refused(exc), form)
    except ValueError as exc:
        return _users_page(422, _refused(exc), form)
    return _done("admin.page", "admin.users.added", staff=user.staff_number, name=user.name)


def _target(staff_number: str) -> Agent:
    agent = agent_by_staff_number(db(), staff_number)
    if agent is None:
        abort(404)
    return agent


def _not_self(agent: Agent) -> str | None:
    # An admin locking themself out by a slip is a support call; another admin can do it.
    return translate("admin.error.self") if agent.id == me().id else None


@bp.post("/users/<staff_number>/role")
@page_required(roles=ADMIN)
def change_role(staff_number: str) -> Page | WerkzeugResponse:
    agent = _target(staff_number)
    refusal = _not_self(agent)
    if refusal:
        return _users_page(403, refusal)
    admin = me()
    try:
        set_role(
            db(), agent.staff_number, request.form.get("role", ""),
            by=admin.staff_number, by_role=admin.role,
        )  # fmt: skip
    except (ValueError, UnknownAgent) as exc:
        return _users_page(422, _refused(exc))
    return _done("admin.page", "admin.users.role_changed", staff=agent.staff_number)


@bp.post("/users/<staff_number>/active")
@page_required(roles=ADMIN)
def change_active(staff_number: str) -> Page | WerkzeugResponse:
    agent = _target(staff_number)
    active = request.form.get("active") == "1"
    refusal = None if active else _not_self(agent)
    if refusal:
        return _users_page(403, refusal)
    admin = me()
    try:
        set_active(db(), agent.staff_number, active, by=admin.staff_number, by_role=admin.role)
    except (LastAdmin, UnknownAgent) as exc:
        return _users_page(422, _refused(exc))
    key = "admin.users.enabled" if active else "admin.users.disabled"
    return _done("admin.page", key, staff=agent.staff_number)


@bp.post("/users/<staff_number>/password")
@page_required(roles=ADMIN)
def change_password(staff_number: str) -> Page | WerkzeugResponse:
    agent = _target(staff_number)
    admin = me()
    try:
        reset_password(
            db(), agent.staff_number, request.form.get("password", ""),
            by=admin.staff_number, by_role=admin.role,
        )  # fmt: skip
    except (ValueError, UnknownAgent) as exc:
        return _users_page(422, _refused(exc))
    return _done("admin.page", "admin.users.password_set", staff=agent.staff_number)


# --- agents and skills -----------------------------------------------------------------


def _agents_page(status: int = 200, error: str | None = None) -> Page:
    queues = admin_config.read_queues(_settings())
    known = sorted(queues.value.skills) if queues.value is not None else []
    return _render(
        "agents", status, error, rows=list_seats(db()), known_skills=known, queues_file=queues
    )


@bp.get("/agents")
@page_required(roles=ADMIN)
def agents() -> Page:
    return _agents_page()


def _skills_text(skills: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(skills.items())) or "-"


@bp.post("/agents/<staff_number>/skills")
@page_required(roles=ADMIN)
def change_skills(staff_number: str) -> Page | WerkzeugResponse:
    """Replace an agent's skills with the form's ``skills`` (``general:2 mobile``; a bare
    name is level 1), each one a skill the queues file names."""
    agent = _target(staff_number)
    queues = admin_config.read_queues(_settings())
    if queues.value is None:
        # Without the file nothing says which skills exist; a typo would go unnoticed.
        problem = queues.problems[0] if queues.problems else str(queues.path)
        return _agents_page(422, translate("admin.error.no_queues", problem=problem))
    tokens = request.form.get("skills", "").replace(",", " ").split()
    try:
        skills = dict(parse_skill(t) for t in tokens)
    except ValueError as exc:
        return _agents_page(422, _refused(exc))
    unknown = sorted(set(skills) - queues.value.skills)
    if unknown:
        return _agents_page(422, translate("admin.error.unknown_skills", skills=", ".join(unknown)))
    s = db()
    rows = {row.agent.id: row for row in list_seats(s)}
    before = rows[agent.id].skills if agent.id in rows else {}
    set_skills(s, agent_id=agent.id, skills=skills)
    admin = me()
    log_user_change(
        s,
        by=admin.staff_number,
        by_role=admin.role,
        staff_number=agent.staff_number,
        detail=f"skills {_skills_text(before)} → {_skills_text(skills)}",
    )
    return _done("admin.agents", "admin.agents.saved", staff=agent.staff_number)


# --- queues ----------------------------------------------------------------------------


def _lengths(catalog: Any, now: datetime) -> dict[str, dict[str, Any]]:
    stats = lead_store.queue_stats(db(), catalog, now)
    return {
        q.queue: {
            "waiting": q.waiting,
            "callbacks": q.callbacks_waiting,
            "longest": None if q.longest_wait_seconds is None else round(q.longest_wait_seconds),
        }
        for q in stats
    }


@bp.get("/queues")
@page_required(roles=ADMIN)
def queues() -> Page:
    loaded = admin_config.read_queues(_settings())
    rows: list[dict[str, Any]] = []
    if loaded.value is not None:
        catalog = loaded.value
        lengths = _lengths(catalog, utcnow())
        seats = [r for r in list_seats(db()) if r.agent.active]
        for name, config in catalog.configs.items():
            able = [r for r in seats if all(r.skills.get(k, 0) >= 1 for k in config.skills)]
            rows.append(
                {
                    "config": config,
                    "live": lengths[name],
                    "qualified": len(able),
                    "available": sum(1 for r in able if r.seat.state == "available"),
                }
            )
    return _render("queues", loaded=loaded, rows=rows)


@live_bp.get("/queues")
@login_required(roles=ADMIN)
def live_queues() -> Any:
    """``lengths`` events: every queue's waiting callers, callbacks and longest wait."""
    settings = _settings()

    def render() -> list[tuple[str, Any]]:
        loaded = admin_config.read_queues(settings)
        if loaded.value is None:
            return []
        return [("lengths", _lengths(loaded.value, utcnow()))]

    return event_stream(render, max_seconds=STREAM_SECONDS)


# --- menus -----------------------------------------------------------------------------


def _diagram_words() -> dict[str, str]:
    return {key: translate(f"admin.diagram.{key}") for key in DEFAULT_LABELS}


@bp.get("/menus")
@page_required(roles=ADMIN)
def menus() -> Page:
    """One menu file (default: the live menu) drawn as a diagram, read from disk now."""
    settings = _settings()
    files = admin_config.menu_files(settings)
    live = admin_config.live_menu_name(settings)
    chosen = request.args.get("menu") or live
    by_name = {p.stem: p for p in files}
    if chosen not in by_name:
        if request.args.get("menu"):
            abort(404)
        return _render("menus", files=files, live=live, chosen=None, loaded=None, svg=None)
    queues = admin_config.read_queues(settings)
    calendars = admin_config.read_calendars(settings)
    loaded = admin_config.read_menu(by_name[chosen], queues, calendars)
    svg = None
    if loaded.value is not None:
        # Built by menu_diagram, which escapes every text from the file.
        svg = Markup(menu_svg(loaded.value, current_language(), _diagram_words()))
    return _render(
        "menus",
        files=files,
        live=live,
        chosen=chosen,
        loaded=loaded,
        svg=svg,
        others=(queues, calendars),
    )


# --- shifts and checks -----------------------------------------------------------------


@bp.get("/shifts")
@page_required(roles=ADMIN)
def shifts() -> Page:
    settings = _settings()
    loaded = admin_config.read_shifts(settings, admin_config.read_calendars(settings))
    day = admin_config.shift_day(loaded.value, utcnow()) if loaded.value is not None else None
    return _render(
        "shifts", loaded=loaded, day=day, clock=admin_config.clock, span=admin_config.period_span
    )


@bp.get("/checks")
@page_required(roles=ADMIN)
def checks() -> Page:
    settings = _settings()
    return _render(
        "checks",
        checks=admin_config.run_checks(settings),
        live=admin_config.live_menu_name(settings),
    )


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(live_bp)
