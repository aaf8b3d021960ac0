"""webapp: the Flask web application for agents, team leads and admins: HTML pages
(agent desk, wallboard, reports, admin) over a JSON API under /api, live updates by
Server-Sent Events under /live, and the CRM integration API under /api/v1.

``create_app`` is the application factory: one app per settings, with its own database
engine and shift rules, so tests and several sites can run side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from kernel.settings import Settings, SettingsError, load_settings


def create_app(
    settings: Settings | None = None, *, test_config: Mapping[str, Any] | None = None
) -> Flask:
    """The web app for ``settings`` (default: ``load_settings()``).

    Refuses to start (SettingsError) without ``web.secret_key`` unless ``test_config``
    supplies SECRET_KEY: the key signs the login cookie. Loads the shift rules from
    ``paths.shifts_file`` when it exists (ShiftsInvalid for a broken file). Does not
    migrate the database: the controller and the CLI do.
    """
    from agents.queue_config import load_queues
    from agents.shift_file import load_shifts
    from kernel.calendar import load_calendars
    from webapp import api, auth, db, errors, lead, live, pages

    settings = settings if settings is not None else load_settings()
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=settings.web.secret_key or None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="hotline_session",
        # Enough for any form of the page; larger bodies are refused with 413.
        MAX_CONTENT_LENGTH=64 * 1024,
        HOTLINE_LOGIN_MAX_FAILURES=settings.web.login_max_failures,
        HOTLINE_LOGIN_WINDOW_MINUTES=settings.web.login_window_minutes,
        HOTLINE_DEFAULT_LANGUAGE=settings.web.default_language,
        HOTLINE_FULL_NUMBER_ROLES=tuple(settings.web.full_number_roles),
    )
    app.extensions["hotline.settings"] = settings
    if test_config is not None:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        raise SettingsError(
            "web.secret_key: required to sign the login cookie and has no default; set it "
            "in your config file or in HOTLINE_WEB_SECRET_KEY (e.g. the output of "
            "python -c 'import secrets; print(secrets.token_hex(32))')"
        )

    shifts = None
    path = settings.paths.shifts_file
    if path.exists():
        calendar = settings.paths.calendar_file
        shifts = load_shifts(path, load_calendars(calendar) if calendar.exists() else None)

    queues_file = settings.paths.queues_file
    queues = load_queues(queues_file) if queues_file.exists() else None

    resources = db.init_app(app, settings.database.url, shifts, queues)
    live.init_app(app, resources.sessions)
    errors.register(app, pages.html_error)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(lead.bp)
    # Tickets and the work around them (issue #5): the rules and calendar files are
    # read once here and shared by the views that need them.
    from tickets.site import load_ticket_site
    from webapp import callbacks, dispatch, notifications, recordings, tickets

    site = load_ticket_site(settings)
    tickets.init_app(app, site)
    app.register_blueprint(notifications.bp)
    dispatch.init_app(app, site, settings.tickets.dispatch_time)
    callbacks.init_app(app, settings, site.tz)
    recordings.register(app, settings)
    # The HTML pages of each area (issue #6).
    _register_areas(app, settings)
    return app


def close_app(app: Flask) -> None:
    """Release what ``create_app`` started: the live watcher's polling thread and the
    database engine's pooled connections."""
    from webapp import db, live

    live.stop_watcher(app)
    db.resources(app).engine.dispose()


def _register_areas(app: Flask, settings: Settings) -> None:
    """The page areas: each module has ``register(app, settings)``. Listed here so the
    app's surface is visible in one place."""
    import importlib

    for name in AREAS:
        module = importlib.import_module(f"webapp.{name}")
        module.register(app, settings)


# Page areas, in menu order; a module joins when its area lands.
AREAS: tuple[str, ...] = (
    "agent_page",
    "wallboard",
    "reports",
    "admin",
    "listen",
    "softphone",
    "api_v1",
    "ops",
)
