"""The demo's softphone page: call the hotline from the browser, hear its prompts, press keys,
wait in the queue, and — logged in as an agent — answer your own desk phone when the queue
rings it (your screen pop appears on the agent page meanwhile).

Demo only: registered when ``app.config["HOTLINE_DEMO"]`` is set (``hotline demo``, the
browser tests), where the ARI simulator runs in the same process: the demo's wiring
(``hotline/site.py``) hands the app a line into it as ``app.extensions["hotline.softphone"]``
(``hotline/softphone_line.py``), known here only by the ``SoftphoneLine`` protocol — the web
app imports no simulator. The JSON endpoints under ``/softphone/api`` drive it; the
prompts' WAV files are served from the simulator's sounds directory only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from kernel.roles import SEAT_ROLES
from kernel.settings import Settings
from webapp.auth import json_body, login_required, me
from webapp.errors import ApiError
from webapp.masking import shown_number
from webapp.pages import page_required, render_page

bp = Blueprint("softphone", __name__, url_prefix="/softphone")

_KEY = "hotline.softphone"


class LineError(Exception):
    """A refused request: ``status``, a message and a stable ``error_id``."""

    def __init__(self, status: int, message: str, error_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_id = error_id


class SoftphoneLine(Protocol):
    """A person's line into the demo's Asterisk: their call, and their desk phone."""

    number: str  # the hotline's number

    def dial(self, owner: int, caller_number: str, caller_name: str = "") -> dict[str, Any]: ...

    def status(self, owner: int, channel_id: str, since: int = 0) -> dict[str, Any]: ...

    def press(self, owner: int, channel_id: str, digit: str) -> None: ...

    def hang_up(self, owner: int, channel_id: str) -> dict[str, Any]: ...

    def audio_path(self, name: str) -> Path | None: ...

    def phone(self, endpoint: str) -> dict[str, Any]: ...

    def take(self, endpoint: str, mine: bool) -> dict[str, Any]: ...

    def answer(self, endpoint: str, channel_id: str) -> None: ...

    def phone_hang_up(self, endpoint: str, channel_id: str) -> None: ...


_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
MAX_NAME = 64
# A sample member customer (config/customers.sample.csv), so the screen pop knows them; not
# a VIP, whom the menu sends straight to their line. Any number may be typed instead.
DEFAULT_CALLER = "+8613500000005"
# Roles that sit at a desk phone the queue rings.


def register(app: Flask, settings: Settings) -> None:
    if app.config.get("HOTLINE_DEMO"):
        app.register_blueprint(bp)


def line() -> SoftphoneLine:
    """The app's line into the simulator (503 outside the demo)."""
    found = current_app.extensions.get(_KEY)
    if found is None:
        raise ApiError(
            503, "the softphone needs the simulator of `hotline demo`", error_id="no_simulator"
        )
    return found  # type: ignore[no-any-return]


def _refused(exc: LineError) -> ApiError:
    return ApiError(exc.status, exc.message, error_id=exc.error_id)


@bp.get("")
@page_required()
def page() -> str:
    agent = me()
    return render_page(
        "softphone.html",
        i18n_prefixes=("softphone.",),
        hotline_number=line().number,
        default_caller=DEFAULT_CALLER,
        desk_phone=agent.role in SEAT_ROLES,
    )


# -- the caller ---------------------------------------------------------------------------


@bp.post("/api/calls")
@login_required()
def dial() -> tuple[Response, int]:
    body = json_body()
    number = str(body.get("from", "")).strip()
    name = str(body.get("name", "")).strip()
    if not _NUMBER.match(number):
        raise ApiError(422, "the number to call from: digits, optionally after +", field="from")
    if len(name) > MAX_NAME:
        raise ApiError(422, f"the caller's name: at most {MAX_NAME} characters", field="name")
    try:
        call = line().dial(me().id, number, name)
    except LineError as exc:
        raise _refused(exc) from exc
    return jsonify(call), 201


@bp.get("/api/calls/<channel_id>")
@login_required()
def call_status(channel_id: str) -> Response:
    since = request.args.get("since", "0")
    if not since.isdigit():
        raise ApiError(400, "since: an item number")
    try:
        return jsonify(line().status(me().id, channel_id, int(since)))
    except LineError as exc:
        raise _refused(exc) from exc


@bp.post("/api/calls/<channel_id>/keys")
@login_required()
def press(channel_id: str) -> tuple[str, int]:
    key = str(json_body().get("key", ""))
    try:
        line().press(me().id, channel_id, key)
    except LineError as exc:
        raise _refused(exc) from exc
    return "", 204


@bp.post("/api/calls/<channel_id>/hangup")
@login_required()
def hang_up(channel_id: str) -> Response:
    try:
        return jsonify(line().hang_up(me().id, channel_id))
    except LineError as exc:
        raise _refused(exc) from exc


@bp.get("/audio/<path:name>")
@login_required()
def audio(name: str) -> Response:
    """A prompt the simulator played: only WAV files under its sounds directory."""
    path = line().audio_path(name)
    if path is None:
        raise ApiError(404, "no such prompt")
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=300)


# -- the agent's desk phone ------------------------------------------------------------------


def _desk_endpoint() -> str:
    agent = me()
    if agent.role not in SEAT_ROLES:
        raise ApiError(403, "only agents and leads have a desk phone the queue rings")
    return agent.endpoint


def _phone_view(phone: dict[str, Any]) -> dict[str, Any]:
    # The caller's number as this user may see it (web.full_number_roles).
    calls = [{**c, "caller_number": shown_number(c["caller_number"])} for c in phone["calls"]]
    return {**phone, "calls": calls}


@bp.get("/api/phone")
@login_required()
def desk_phone() -> Response:
    try:
        return jsonify(_phone_view(line().phone(_desk_endpoint())))
    except LineError as exc:
        raise _refused(exc) from exc


@bp.post("/api/phone")
@login_required()
def take_phone() -> Response:
    """``{"mine": true}``: the person answers their desk phone from now on; false gives it
    back to the simulation."""
    mine = json_body().get("mine")
    if not isinstance(mine, bool):
        raise ApiError(422, "mine: true or false", field="mine")
    try:
        return jsonify(_phone_view(line().take(_desk_endpoint(), mine)))
    except LineError as exc:
        raise _refused(exc) from exc


@bp.post("/api/phone/calls/<channel_id>/answer")
@login_required()
def answer_phone(channel_id: str) -> tuple[str, int]:
    try:
        line().answer(_desk_endpoint(), channel_id)
    except LineError as exc:
        raise _refused(exc) from exc
    return "", 204


@bp.post("/api/phone/calls/<channel_id>/hangup")
@login_required()
def hang_up_phone(channel_id: str) -> tuple[str, int]:
    try:
        line().phone_hang_up(_desk_endpoint(), channel_id)
    except LineError as exc:
        raise _refused(exc) from exc
    return "", 204
