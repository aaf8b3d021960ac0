"""The ``hotline`` command.

Exit status: 0 success, 1 runtime failure, 2 bad configuration or usage (one line on
stderr naming the file, key and problem). Heavy imports happen inside each command so
``hotline --help`` and config errors stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kernel.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from agents.shifts import ShiftConfig
    from bench.load import LoadConfig

EXIT_CONFIG = 2
# ticketdb.models.CUSTOMER_TIERS, repeated so --help needs no SQLAlchemy import.
CUSTOMER_TIERS = ("general", "member", "vip")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def _setup_logging(
    verbose: bool, log_format: str | None = None, settings: Settings | None = None
) -> None:
    from hotline.logsetup import setup_logging

    # --log-format wins over the settings file's node.log_format.
    fmt = log_format or (settings.node.log_format if settings is not None else "text")
    node = settings.node.name if settings is not None else ""
    setup_logging(verbose, "json" if fmt == "json" else "text", node=node)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.require_ari_password()
    settings.require_web_secret()
    from hotline.node import run_until_signalled

    _setup_logging(args.verbose, args.log_format, settings)
    return asyncio.run(run_until_signalled(settings))


def _menu_files(args: argparse.Namespace, settings: Settings) -> list[Path]:
    if args.files:
        return [Path(f) for f in args.files]
    return sorted(settings.paths.menus_dir.glob("*.yaml"))


def cmd_menus_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ivr.menus.live import calendar_names, queue_catalog
    from ivr.menus.loader import load_menu
    from ivr.menus.model import MenuInvalid

    queues, calendars = queue_catalog(settings), calendar_names(settings)
    files = _menu_files(args, settings)
    if not files:
        print(f"hotline: error: no menu files in {settings.paths.menus_dir}", file=sys.stderr)
        return EXIT_CONFIG
    bad = 0
    for path in files:
        try:
            menu = load_menu(path, queues, calendars)
        except MenuInvalid as exc:
            bad += 1
            for problem in exc.problems:
                print(problem)
            continue
        print(
            f"{path}: ok ({len(menu.spec.nodes)} nodes, languages {', '.join(menu.spec.languages)})"
        )
    return EXIT_CONFIG if bad else 0


def cmd_menus_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ivr.menus.loader import parse_menu
    from ivr.menus.model import MenuInvalid
    from ivr.menus.show import graph, render

    try:
        menu = parse_menu(Path(args.file))
    except MenuInvalid as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(graph(menu), ensure_ascii=False, indent=2))
    else:
        print(render(menu, args.language or settings.ivr.default_language))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import secrets

    from simulator.server import serve_forever

    _setup_logging(args.verbose, args.log_format)
    password = args.password or os.environ.get("HOTLINE_ARI_PASSWORD") or secrets.token_urlsafe(12)
    if not (args.password or os.environ.get("HOTLINE_ARI_PASSWORD")):
        print(f"ARI simulator password (generated): {password}", flush=True)
    print(
        f"ARI simulator on http://{args.host}:{args.port}/ari (user {args.username}); "
        f"control API under /_sim/",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                host=args.host,
                port=args.port,
                username=args.username,
                password=password,
                sounds_dir=Path(args.sounds_dir),
                recordings_dir=Path(args.recordings_dir),
            )
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from hotline.demo import run_demo

    _setup_logging(args.verbose) if args.verbose else logging.basicConfig(level=logging.WARNING)
    return asyncio.run(
        run_demo(settings, duration=args.duration, interval=args.interval, hours=args.hours)
    )


def cmd_bench_ivr(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bench.ivr import main as bench_ivr

    return bench_ivr(
        settings,
        args.calls,
        args.concurrency,
        menu=args.menu,
        db_url=args.db,
        as_json=args.json,
        sim_process=args.sim_process,
        profile=Path(args.profile) if args.profile else None,
        verbose=args.verbose,
        think=args.think,
    )


def cmd_bench_acd(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bench.acd import main as bench_acd

    return bench_acd(
        settings,
        args.agents,
        args.callers,
        talk_seconds=args.talk,
        db_url=args.db,
        as_json=args.json,
        verbose=args.verbose,
    )


def _load_config(args: argparse.Namespace, duration: float) -> LoadConfig:
    """The options every load-driven benchmark shares (``BenchError`` for a bad --mix)."""
    from bench.load import DEFAULT_MIX, LoadConfig, parse_mix

    return LoadConfig(
        rate=args.rate,
        duration=duration,
        agents=args.agents,
        mix=parse_mix(args.mix) if args.mix else dict(DEFAULT_MIX),
        handle_time_mean=args.handle_time_mean,
        wrap_up=args.wrap_up,
        think=args.think,
        patience=args.patience,
        answer_after=args.answer_after,
        drain=args.drain,
        db_url=args.db,
        sim_process=args.sim_process,
        seed=args.seed,
    )


def cmd_bench_load(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bench.harness import BenchError
    from bench.load import main as bench_load

    try:
        config = _load_config(args, args.duration)
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return bench_load(settings, config, as_json=args.json, verbose=args.verbose)


def cmd_bench_soak(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bench.harness import BenchError
    from bench.soak import main as bench_soak

    try:
        config = _load_config(args, args.minutes * 60)
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return bench_soak(
        settings,
        config,
        warm_up=args.warm_up,
        max_rss_slope=args.max_rss_slope,
        as_json=args.json,
        verbose=args.verbose,
    )


def cmd_bench_faults(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bench.faults import main as bench_faults
    from bench.harness import BenchError

    try:
        config = _load_config(args, args.duration)
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return bench_faults(
        settings,
        config,
        scenarios=args.scenario,
        as_json=args.json,
        verbose=args.verbose,
    )


def _add_load_options(
    p: argparse.ArgumentParser, rate: float, agents: int, handle: float, drain: float
) -> None:
    p.add_argument("--rate", type=float, default=rate, help=f"calls per second (default {rate:g})")
    p.add_argument("--agents", type=int, default=agents, help=f"agents (default {agents})")
    p.add_argument(
        "--mix",
        help="caller behaviours and their shares (default "
        "self_service=0.3,queue=0.5,abandon=0.1,callback=0.1)",
    )
    p.add_argument(
        "--handle-time-mean",
        type=float,
        default=handle,
        help=f"agents' mean handle time, s (log-normal; default {handle:g})",
    )
    p.add_argument("--wrap-up", type=float, default=5.0, help="wrap-up after each call, s")
    p.add_argument("--answer-after", type=float, default=1.0, help="agents' phones ring this long")
    p.add_argument("--think", type=float, default=1.0, help="s a caller listens before a key")
    p.add_argument("--patience", type=float, default=10.0, help="abandoning callers' mean wait")
    p.add_argument(
        "--drain",
        type=float,
        default=drain,
        help=f"s for calls to end after the arrivals stop, then callers hang up ({drain:g})",
    )
    p.add_argument("--seed", type=int, help="random seed (arrivals, behaviours, handle times)")
    p.add_argument("--json", action="store_true", help="the figures as one JSON document")
    p.add_argument(
        "--db",
        help="database URL (default: a fresh SQLite file; PostgreSQL: a "
        "fresh schema, dropped afterwards)",
    )
    p.add_argument(
        "--sim-process",
        action="store_true",
        help="run the simulator and the agents' phones in a process of their own",
    )


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ticketdb.migrate import upgrade

    upgrade(settings.database.url)
    print(f"database at {settings.database.url} is up to date")
    return 0


def cmd_calls(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from hotline.reports import recent_calls_as_dicts

    rows = recent_calls_as_dicts(settings.database.url, args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no calls recorded yet")
        return 0
    print(f"{'started (UTC)':20} {'caller':16} {'dur':>6} {'side':8} {'reason':24} channel")
    for row in rows:
        dur = f"{row['duration_seconds']:.1f}" if row["duration_seconds"] is not None else "-"
        print(
            f"{(row['started_at'] or '')[:19]:20} {row['caller_number'] or '-':16} {dur:>6} "
            f"{row['hangup_side'] or 'open':8} {row['end_reason'] or '-':24} {row['channel_id']}"
        )
    return 0


def cmd_prompts_build(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ivr.prompts.library import run_build

    return run_build(settings, menus=args.menus, out=sys.stdout, err=sys.stderr)


@contextlib.contextmanager
def _db_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured database, migrated first (a fresh install works)."""
    from ticketdb.engine import make_engine, make_sessionmaker
    from ticketdb.migrate import upgrade

    upgrade(settings.database.url)
    engine = make_engine(settings.database.url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def cmd_customers_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ticketdb.customers import upsert_customer

    with _db_session(settings) as s:
        try:
            customer = upsert_customer(
                s,
                phone=args.phone,
                name=args.name,
                tier=args.tier,
                company=args.company,
                address=args.address,
            )
        except ValueError as exc:
            print(f"hotline: error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        print(f"saved {customer.phone} {customer.name} ({customer.tier})")
    return 0


def cmd_customers_import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ticketdb.customers import CustomerImportError, import_csv

    with _db_session(settings) as s:
        try:
            count = import_csv(s, Path(args.file))
        except CustomerImportError as exc:
            print(f"hotline: error: {exc} (nothing imported)", file=sys.stderr)
            return 1
    print(f"imported {count} customer(s) from {args.file}")
    return 0


def cmd_customers_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from ticketdb.customers import find_by_phone

    with _db_session(settings) as s:
        customer = find_by_phone(s, args.phone)
    if customer is None:
        print("no customer with that number")
        return 1
    for label, value in (
        ("phone", customer.phone),
        ("name", customer.name),
        ("tier", customer.tier),
        ("company", customer.company),
        ("address", customer.address),
        ("notes", customer.notes),
        ("created", customer.created_at.isoformat()),
        ("updated", customer.updated_at.isoformat()),
    ):
        print(f"{label:8} {value if value is not None else '-'}")
    return 0


def _load_shift_config(args: argparse.Namespace) -> tuple[Path, ShiftConfig]:
    """The shifts file (argument or config/shifts.yaml) with the configured calendar."""
    settings = _settings(args)
    from agents.shift_file import DEFAULT_FILE, load_shifts
    from kernel.calendar import load_calendars

    path = Path(args.file) if args.file else DEFAULT_FILE
    calendar = settings.paths.calendar_file
    return path, load_shifts(path, load_calendars(calendar) if calendar.exists() else None)


def cmd_shifts_check(args: argparse.Namespace) -> int:
    from agents.shift_file import ShiftsInvalid

    try:
        path, config = _load_shift_config(args)
    except ShiftsInvalid as exc:
        for problem in exc.problems:
            print(f"hotline: error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    shifts = config.schedule.shifts
    print(f"{path}: ok ({len(shifts)} shift(s), {len(config.teams)} team(s))")
    return 0


def cmd_shifts_show(args: argparse.Namespace) -> int:
    import datetime as dt

    from agents.shift_file import ShiftsInvalid
    from agents.shifts import render_day

    try:
        day = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"hotline: error: --date {args.date!r}: use YYYY-MM-DD", file=sys.stderr)
        return EXIT_CONFIG
    try:
        _, config = _load_shift_config(args)
    except ShiftsInvalid as exc:
        for problem in exc.problems:
            print(f"hotline: error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if day is None:
        day = dt.datetime.now(config.schedule.tz).date()
    print(render_day(config, day))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", help="settings file (default: $HOTLINE_CONFIG or config/hotline.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text or JSON objects (default: node.log_format, else text)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the controller against the configured Asterisk")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("simulate", help="run the ARI simulator on its own")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--username", default="hotline")
    p.add_argument("--password", help="default: $HOTLINE_ARI_PASSWORD, else generated and printed")
    p.add_argument("--sounds-dir", default="recordings/prompts")
    p.add_argument("--recordings-dir", default="var/simulator-recordings")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "demo", help="simulator + controller + scripted callers on embedded defaults"
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between scripted callers")
    p.add_argument(
        "--hours",
        choices=["open", "closed", "real"],
        default="open",
        help="desk hours the menu sees: open (default), closed, or real (config/calendar.yaml)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("menus", help="check and show IVR menu files")
    msub = p.add_subparsers(dest="menus_command", required=True)
    p = msub.add_parser("check", help="validate menu files (default: all in menus/)")
    p.add_argument("files", nargs="*")
    p.set_defaults(func=cmd_menus_check)
    p = msub.add_parser("show", help="print a menu as a tree")
    p.add_argument("file")
    p.add_argument("--language", help="show the prompts in this language")
    p.add_argument("--json", action="store_true", help="nodes and edges as JSON")
    p.set_defaults(func=cmd_menus_show)

    p = sub.add_parser("shifts", help="check and show the shift rules (config/shifts.yaml)")
    shsub = p.add_subparsers(dest="shifts_command", required=True)
    p = shsub.add_parser("check", help="validate the shifts file (default: config/shifts.yaml)")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_shifts_check)
    p = shsub.add_parser("show", help="print a day's shifts, shift changes and rules")
    p.add_argument("--file", help="default: config/shifts.yaml")
    p.add_argument("--date", help="YYYY-MM-DD (default: today in the file's time zone)")
    p.set_defaults(func=cmd_shifts_show)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    p = dbsub.add_parser("upgrade", help="apply database migrations")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("calls", help="list recent call records")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_calls)

    p = sub.add_parser("customers", help="customer records (caller ID → tier)")
    csub = p.add_subparsers(dest="customers_command", required=True)
    p = csub.add_parser("add", help="add a customer, or update the one with this number")
    p.add_argument("phone")
    p.add_argument("--name", required=True)
    p.add_argument("--tier", required=True, choices=CUSTOMER_TIERS)
    p.add_argument("--company", help="default: keep what is on file")
    p.add_argument("--address", help="default: keep what is on file")
    p.set_defaults(func=cmd_customers_add)
    p = csub.add_parser("import", help="add or update customers from a CSV file (all or nothing)")
    p.add_argument("file", help="CSV with a header: phone,name,tier[,company,address]")
    p.set_defaults(func=cmd_customers_import)
    p = csub.add_parser("show", help="show the customer with this number")
    p.add_argument("phone")
    p.set_defaults(func=cmd_customers_show)

    # One module per command family, each registering its own group.
    from hotline.cli import (
        agents,
        callbacks,
        dispatch,
        jobs,
        lead,
        notifications,
        retention,
        tickets,
        tokens,
        users,
    )

    for add_parser in (
        agents.add_agents_parser,
        lead.add_lead_parser,
        tickets.add_tickets_parser,
        notifications.add_notifications_parser,
        dispatch.add_dispatch_parser,
        callbacks.add_callbacks_parser,
        jobs.add_jobs_parser,
        retention.add_retention_parser,
        users.add_users_parser,
        tokens.add_tokens_parser,
    ):
        add_parser(sub, _settings, _db_session)

    p = sub.add_parser("prompts", help="prompt files")
    prsub = p.add_subparsers(dest="prompts_command", required=True)
    p = prsub.add_parser(
        "build", help="build the system prompts (and menu prompts) and the music on hold now"
    )
    p.add_argument("--menus", action="store_true", help="also the live menu's prompts")
    p.set_defaults(func=cmd_prompts_build)

    p = sub.add_parser("bench", help="benchmarks against the ARI simulator")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser(
        "ivr",
        help="scripted callers through three menu levels with barge-in, C calls in flight",
        description="Scripted callers press 1 (language), 2 (consultation), 2/3/4 (a queue) "
        "as each prompt starts; the menu's clock is fixed at an instant its calendar is open. "
        "Exit 0 when every call has exactly one complete record.",
    )
    p.add_argument("--calls", type=int, default=300, help="calls to place in all")
    p.add_argument("--concurrency", type=int, default=100, help="calls kept in flight")
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds each caller listens before pressing (default 0: barge in at once)",
    )
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.add_argument("--menu", help="menu in menus_dir (default: the live menu, ivr.menu)")
    p.add_argument(
        "--db",
        help="database URL (default: a fresh SQLite file; PostgreSQL: a "
        "fresh schema, dropped afterwards)",
    )
    p.add_argument(
        "--sim-process",
        action="store_true",
        help="run the simulator as a separate process, so CPU and RSS are the controller's own",
    )
    p.add_argument(
        "--profile",
        help="write a cProfile of the run here (event-loop thread only); top spots on stderr",
    )
    p.set_defaults(func=cmd_bench_ivr)
    p = bsub.add_parser(
        "acd",
        help="the queue engine: N callers waiting, A agents come back at once",
        description="N callers wait in one queue; then A agents become available and serve "
        "them (answer after 0.05 s, hang up after --talk s, no wrap-up) until every call has "
        "a complete record. Reports decisions per second and the time from an agent "
        "becoming available to the ARI originate. Exit 0 when every invariant held.",
    )
    p.add_argument("--agents", type=int, default=100, help="agents (default 100)")
    p.add_argument("--callers", type=int, default=1000, help="callers waiting (default 1000)")
    p.add_argument("--talk", type=float, default=0.5, help="seconds an agent talks (default 0.5)")
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.add_argument(
        "--db",
        help="database URL (default: a fresh SQLite file; PostgreSQL: a "
        "fresh schema, dropped afterwards)",
    )
    p.set_defaults(func=cmd_bench_acd)
    p = bsub.add_parser(
        "load",
        help="a busy hour: Poisson callers with a behaviour mix, agents with handle times",
        description="Callers arrive at --rate per second for --duration seconds and "
        "self-serve, queue for an agent, abandon or ask for a callback; the controller runs "
        "as `hotline run` in its own process. Exit 0 when every call has exactly one "
        "complete record.",
    )
    p.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    _add_load_options(p, rate=2.0, agents=100, handle=60.0, drain=120.0)
    p.set_defaults(func=cmd_bench_load)
    p = bsub.add_parser(
        "soak",
        help="steady load for M minutes: memory slope, task and fd leaks",
        description="A warm-up, then --minutes of steady load; reports the controller's RSS "
        "slope and its asyncio tasks and open fds while idle before and after. Exit 0 when "
        "the verdict is pass.",
    )
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of steady load")
    p.add_argument(
        "--warm-up", type=float, help="s of load before the baseline (default 10%%, 5-60 s)"
    )
    p.add_argument(
        "--max-rss-slope", type=float, default=20.0, help="MB per hour allowed (default 20)"
    )
    _add_load_options(p, rate=2.0, agents=30, handle=10.0, drain=120.0)
    p.set_defaults(func=cmd_bench_soak)
    p = bsub.add_parser(
        "faults",
        help="fault scenarios under load, each with a verdict",
        description="Each scenario runs under load and injects its fault; a scenario passes "
        "when no record is lost or duplicated and the fault's own check holds. Exit 0 when "
        "every scenario run passed (skipped ones are reported with the reason).",
    )
    p.add_argument(
        "--scenario",
        action="append",
        help="run this scenario (repeatable; default: all). Names: ws_drop, sigkill, "
        "pg_restart, ari_503, smtp_down, disk_full, garbage_menu",
    )
    p.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals each")
    _add_load_options(p, rate=2.0, agents=20, handle=5.0, drain=60.0)
    p.set_defaults(func=cmd_bench_faults)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from agents.queue_config import QueueConfigError
    from agents.shift_file import ShiftsInvalid
    from ivr.menus.model import MenuInvalid
    from kernel.calendar import CalendarError

    try:
        return int(args.func(args))
    except (SettingsError, CalendarError, QueueConfigError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (MenuInvalid, ShiftsInvalid) as exc:
        # Every problem on its own line, each naming file and line.
        for problem in exc.problems:
            print(f"hotline: error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
