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
from collections.abc import Sequence
from pathlib import Path

from hotline.settings import Settings, SettingsError, load_settings

EXIT_CONFIG = 2


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.require_ari_password()
    from hotline.node import run_until_signalled

    _setup_logging(args.verbose)
    return asyncio.run(run_until_signalled(settings))


def cmd_simulate(args: argparse.Namespace) -> int:
    import secrets

    from ivr.simulator import serve_forever

    _setup_logging(args.verbose)
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
    return asyncio.run(run_demo(settings, duration=args.duration, interval=args.interval))


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
    from hotline.prompt_library import run_build

    return run_build(settings, menus=args.menus, out=sys.stdout, err=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", help="settings file (default: $HOTLINE_CONFIG or config/hotline.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
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
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    p = dbsub.add_parser("upgrade", help="apply database migrations")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("calls", help="list recent call records")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_calls)

    p = sub.add_parser("prompts", help="prompt files")
    prsub = p.add_subparsers(dest="prompts_command", required=True)
    p = prsub.add_parser("build", help="build the system prompts (and menu prompts) now")
    p.add_argument("--menus", action="store_true", help="also the live menu's prompts")
    p.set_defaults(func=cmd_prompts_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
