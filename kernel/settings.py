"""Settings: ``config/hotline.toml`` overlaid with ``HOTLINE_<SECTION>_<KEY>`` variables.

Validated at start-up. Any problem is reported as ONE line naming the source (file and
line, or the environment variable), the dotted key and what is wrong; the CLI turns a
``SettingsError`` into exit status 2. Secrets have no working defaults: the ARI
password and the web secret key must come from the site's own file or environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG = Path("config/hotline.toml")
ENV_PREFIX = "HOTLINE_"


class SettingsError(Exception):
    """A configuration problem, already phrased as the one line to show the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSettings(_Section):
    name: str = Field("node1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    # "json": one JSON object per log line (for log shippers); `--log-format` overrides.
    log_format: Literal["text", "json"] = "text"


class AriSettings(_Section):
    url: str = "http://127.0.0.1:8088"
    username: str = Field("hotline", min_length=1)
    # No working default: a site sets it in its own file or HOTLINE_ARI_PASSWORD.
    password: str = ""
    app: str = Field("hotline", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    request_timeout: float = Field(5.0, gt=0)
    max_connections: int = Field(32, ge=1, le=1000)
    backoff_initial: float = Field(0.5, gt=0)
    backoff_max: float = Field(30.0, gt=0)
    backoff_factor: float = Field(2.0, ge=1)
    backoff_jitter: float = Field(0.5, ge=0, le=1)
    ping_interval: float = Field(5.0, gt=0)
    ping_timeout: float = Field(2.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/.*)?$", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8088")
        return value.rstrip("/")


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/hotline.sqlite3"
    auto_upgrade: bool = True

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class PathSettings(_Section):
    data_dir: Path = Path("var")
    prompts_dir: Path = Path("recordings/prompts")
    # Music on hold made by `hotline prompts build`, for musiconhold.conf's default class.
    moh_dir: Path = Path("recordings/moh")
    calls_dir: Path = Path("recordings/calls")
    menus_dir: Path = Path("menus")
    queues_file: Path = Path("config/queues.yaml")
    calendar_file: Path = Path("config/calendar.yaml")
    shifts_file: Path = Path("config/shifts.yaml")
    # Ticket kinds' rules: escalation, SLAs, sales area (tickets.config).
    tickets_file: Path = Path("config/tickets.yaml")


class IvrSettings(_Section):
    default_language: Literal["en", "zh"] = "en"
    languages: tuple[Literal["en", "zh"], ...] = ("zh", "en")
    # The live menu: menus/<menu>.yaml. Edits are picked up for new calls every
    # reload_interval seconds; an invalid edit is logged and the last good menu stays.
    menu: str = Field("telecom", pattern=r"^[A-Za-z0-9_-]+$")
    reload_interval: float = Field(1.0, gt=0)


class AcdSettings(_Section):
    """The queue engine (automatic call distribution) of a node."""

    @field_validator("internal_callers")
    @classmethod
    def _a_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    # Seconds between distribution passes (each also picks up other nodes' changes).
    poll_interval: float = Field(0.5, gt=0, le=10)
    heartbeat_interval: float = Field(1.0, gt=0)
    # A node whose heartbeat is older than this is dead: its calls are offered nothing and
    # it is buried (its waiting callers leave the queue, its seats without a call are
    # released; seats it rings or talks on stay held until it is back or a lead frees them).
    node_dead_after: float = Field(15.0, gt=0)
    # How often each node asks its Asterisk about the agents' phones (GET /endpoints);
    # registrations and losses also arrive at once as endpoint events.
    phone_refresh: float = Field(5.0, gt=0, le=300)
    # A phone Asterisk refused to ring is not tried again for this long, unless it
    # registers again meanwhile.
    phone_refused_hold: float = Field(60.0, ge=0, le=3600)
    # Where a queue callback dials the customer; {number} is the caller's number.
    callback_endpoint: str = Field(
        "PJSIP/{number}@trunk", pattern=r"^[A-Za-z][A-Za-z0-9_]*/.*\{number\}"
    )
    # Caller IDs of internal callers (extensions of the organisation): served after
    # external callers in queues with external_first (domain.md §6, as front desks do).
    internal_callers: str = r"^[0-9]{3,5}$"
    callback_ring_timeout: int = Field(30, ge=5, le=300)
    callback_max_attempts: int = Field(3, ge=1, le=20)
    # A customer not reached is tried again in a later time slot (domain.md §5).
    callback_retry_minutes: float = Field(60.0, gt=0)


def _hhmm(value: str) -> str:
    if not re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", value):
        raise ValueError('must be a time of day "HH:MM"')
    return value


class TicketSettings(_Section):
    """Tickets' timed work (the rules themselves are in paths.tickets_file)."""

    # The day's orders go out on dispatch lists at this local time; the business needs
    # them before 10:00 (domain.md §2).
    dispatch_time: str = "09:30"
    # A target counts as "near" breach once this share of its time is used.
    sla_near_fraction: float = Field(0.8, gt=0, lt=1)
    sla_sweep_seconds: int = Field(60, ge=5, le=3600)

    @field_validator("dispatch_time")
    @classmethod
    def _before_ten(cls, value: str) -> str:
        _hhmm(value)
        if value >= "10:00":
            raise ValueError("must be before 10:00 (orders are dispatched before 10:00)")
        return value


class SmtpSettings(_Section):
    """Where e-mail notifications go out. Empty host: e-mail is not configured, and
    e-mail notifications wait in the outbox (in-app ones are still shown)."""

    host: str = ""
    port: int = Field(25, ge=1, le=65535)
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "hotline@localhost"
    timeout: float = Field(10.0, gt=0)
    # Backoff between attempts of one message: initial, growth, cap (seconds).
    retry_initial: float = Field(30.0, gt=0)
    retry_factor: float = Field(2.0, ge=1)
    retry_max: float = Field(3600.0, gt=0)
    # After this many failed attempts the message is marked failed (and stays listed).
    max_attempts: int = Field(20, ge=1, le=1000)


class CallbackSettings(_Section):
    """The callback worklist (domain.md §5)."""

    # Never dialled in these local windows (calendar file's time zone); a window may
    # run past midnight ("21:00-08:00").
    quiet_hours: tuple[str, ...] = ("12:00-13:30", "21:00-08:00")
    # Callback within this many days of the reason for it.
    due_days: int = Field(3, ge=1, le=60)
    # Complaint callbacks start this many days after the complaint is handled.
    complaint_after_days: int = Field(0, ge=0, le=30)
    # Satisfaction survey this many working days after an order.
    survey_after_days: int = Field(7, ge=0, le=60)
    # Not reached after this many attempts: closed as unreachable (and reported).
    max_attempts: int = Field(3, ge=1, le=20)
    # Caller ID shown to the customer on outbound callbacks.
    caller_id: str = Field("", max_length=64)
    # Every member customer's call gets a callback (100 % coverage).
    member_calls: bool = True

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for window in value:
            m = re.match(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$", window)
            if not m:
                raise ValueError(f'each window must be "HH:MM-HH:MM" (got {window!r})')
            _hhmm(m.group(1))
            _hhmm(m.group(2))
            if m.group(1) == m.group(2):
                raise ValueError(f"empty window {window!r}")
        return value


class RetentionSettings(_Section):
    # Recordings and call ledgers older than this are purged (domain.md §7: one year).
    days: int = Field(365, ge=1)
    # Local time of the daily purge.
    run_at: str = "03:00"

    @field_validator("run_at")
    @classmethod
    def _time(cls, value: str) -> str:
        return _hhmm(value)


class SchedulerSettings(_Section):
    # Run timed jobs in this process (when it holds the database lease).
    enabled: bool = True
    # The lease is renewed every lease_seconds/3; a holder silent this long loses it.
    lease_seconds: float = Field(30.0, ge=3, le=600)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    secret_key: str = ""
    # Roles allowed to hear call recordings (domain.md §7); every playback is audited.
    recording_roles: tuple[Literal["agent", "lead", "admin"], ...] = ("lead", "admin")
    # Serve the web page inside `hotline run` / `hotline demo` (a production WSGI server).
    enabled: bool = True
    # Worker threads of the WSGI server; each open live page holds one.
    threads: int = Field(64, ge=4, le=1024)
    # Roles that see callers' phone numbers in full; others see them masked (138****0005).
    full_number_roles: tuple[Literal["agent", "lead", "admin"], ...] = ("lead", "admin")
    # Login throttling: this many failures within the window lock the staff number (and,
    # at five times as many, the address) until the window has passed.
    login_max_failures: int = Field(5, ge=1)
    login_window_minutes: int = Field(15, ge=1)
    # The language of the login page and of users who have not chosen one.
    default_language: Literal["en", "zh"] = "en"


class OpsSettings(_Section):
    """The controller's own /healthz and /metrics (Prometheus) endpoint."""

    host: str = "127.0.0.1"
    # 0: no endpoint (the web page still serves /healthz and /metrics).
    port: int = Field(9090, ge=0, le=65535)
    # A database that takes longer than this to answer SELECT 1 counts as unreachable.
    db_timeout: float = Field(1.0, gt=0, le=30)


class Settings(_Section):
    node: NodeSettings = NodeSettings()
    ari: AriSettings = AriSettings()
    database: DatabaseSettings = DatabaseSettings()
    paths: PathSettings = PathSettings()
    ivr: IvrSettings = IvrSettings()
    acd: AcdSettings = AcdSettings()
    web: WebSettings = WebSettings()
    tickets: TicketSettings = TicketSettings()
    smtp: SmtpSettings = SmtpSettings()
    callbacks: CallbackSettings = CallbackSettings()
    retention: RetentionSettings = RetentionSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    ops: OpsSettings = OpsSettings()

    def require_web_secret(self) -> None:
        if self.web.enabled and not self.web.secret_key:
            raise SettingsError(
                "web.secret_key: required to serve the web page and has no default; set it "
                "in your config file or in HOTLINE_WEB_SECRET_KEY (e.g. the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'), or turn the "
                "page off with web.enabled: false"
            )

    def require_ari_password(self) -> None:
        if not self.ari.password:
            raise SettingsError(
                "ari.password: required and has no default; set it in your config file "
                "or in HOTLINE_ARI_PASSWORD"
            )


SECTIONS = {name: field.annotation for name, field in Settings.model_fields.items()}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``HOTLINE_ARI_PING_INTERVAL=3`` → ``{"ari": {"ping_interval": "3"}}``."""
    out: dict[str, dict[str, str]] = {}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var == "HOTLINE_CONFIG":
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                out.setdefault(section, {})[rest[len(section) + 1 :]] = value
                break
    return out


def _line_of(text: str, section: str, key: str) -> int | None:
    """Best-effort line number of ``key`` inside ``[section]`` of a TOML text."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if current is None and not key and re.match(rf"^{re.escape(section)}\s*=", stripped):
            return number  # a top-level `node = 5` (or a stray key) where a table belongs
        header = re.match(r"^\[([^\]]+)\]", stripped)
        if header:
            current = header.group(1).strip()
            if current == section and not key:
                return number
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    # Other spellings TOML allows ([[n]], n.x = 1, "n" = 1, [node.sub]): the first line
    # using the name as a key.
    token = re.compile(rf"""(^|[\[.\s"'])({re.escape(key or section)})(["']?\s*[\]=.])""")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("#") and token.search(stripped):
            return number
    return None


def _merge(base: dict[str, Any], extra: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in extra.items():
        target = merged.setdefault(section, {})
        if isinstance(target, dict):
            target.update(values)
    return merged


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate; ``path`` None: $HOTLINE_CONFIG, else config/hotline.toml if present."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("HOTLINE_CONFIG"):
        path = Path(environ["HOTLINE_CONFIG"])
    explicit = path is not None
    path = path or DEFAULT_CONFIG
    text = ""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"at line (\d+)", str(exc))
            line = int(at.group(1)) if at else max(len(text.splitlines()), 1)
            raise SettingsError(f"{path}:{line}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise SettingsError(f"{path}:1: not UTF-8 text") from None
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    elif explicit:
        raise SettingsError(f"{path}: config file not found")
    env = _env_overrides(environ)
    try:
        return Settings.model_validate(_merge(data, env))
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path, text, env)) from None


def _describe(
    exc: ValidationError, path: Path, text: str, env: Mapping[str, Mapping[str, str]]
) -> str:
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    dotted = ".".join(loc)
    section, key = ([*loc, ""])[:2]
    problem = err["msg"]
    if err["type"] == "extra_forbidden":
        problem = "unknown setting"
    got = err.get("input")
    shown = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {got!r})"
    if key and key in env.get(section, {}):
        source = f"environment {ENV_PREFIX}{section.upper()}_{key.upper()}"
    else:
        line = _line_of(text, section, key) if text else None
        source = f"{path}:{line}" if line else str(path)
    extra = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}: {dotted}: {problem}{shown}{extra}"
