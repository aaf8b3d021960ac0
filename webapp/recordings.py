"""Call recordings over the JSON API: details and the audio, for the roles allowed to
hear them (``web.recording_roles``, default lead and admin).

Every access is in the audit log (domain.md §7): details as ``view``, the audio as
``play``, and a refused request as ``refused`` with a 403 — a refusal is written down
before anything about the recording is looked up, so it tells nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, send_file

from kernel.settings import Settings
from ticketdb.audit import record_access
from ticketdb.models import Agent, Recording
from ticketdb.recordings import get_recording
from webapp.auth import login_required, me
from webapp.db import db
from webapp.errors import ApiError

bp = Blueprint("recordings", __name__, url_prefix="/api")

_KEY = "hotline.recordings"


@dataclass(frozen=True)
class _Config:
    calls_dir: Path
    roles: tuple[str, ...]


def register(app: Flask, settings: Settings) -> None:
    """Serve recordings from ``paths.calls_dir`` to ``web.recording_roles``."""
    app.extensions[_KEY] = _Config(
        Path(settings.paths.calls_dir).resolve(), tuple(settings.web.recording_roles)
    )
    app.register_blueprint(bp)


def _config() -> _Config:
    found: _Config = current_app.extensions[_KEY]
    return found


def _allowed(agent: Agent, recording_id: int, action: str) -> None:
    """403 (audited as ``refused``) unless the agent's role may hear recordings."""
    if agent.role in _config().roles:
        return
    record_access(
        db(),
        actor=agent.staff_number,
        role=agent.role,
        action="refused",
        object_type="recording",
        object_id=recording_id,
        detail=f"{action}: role {agent.role} may not hear recordings",
    )
    raise ApiError(403, f"needs the role {' or '.join(_config().roles) or '(none allowed)'}")


def _found(recording_id: int) -> Recording:
    row = get_recording(db(), recording_id)
    if row is None:
        raise ApiError(404, f"no recording {recording_id}")
    return row


def _json(r: Recording) -> dict[str, Any]:
    return {
        "id": r.id,
        "call_id": r.call_id,
        "name": r.name,
        "status": r.status,
        "path": r.path,
        "size_bytes": r.size_bytes,
        "duration_seconds": r.duration_seconds,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "error": r.error,
        "audio": f"/api/recordings/{r.id}/audio" if r.status == "stored" else None,
    }


def _audit(agent: Agent, action: str, recording_id: int) -> None:
    record_access(
        db(),
        actor=agent.staff_number,
        role=agent.role,
        action=action,
        object_type="recording",
        object_id=recording_id,
    )


@bp.get("/recordings/<int:recording_id>")
@login_required()
def recording(recording_id: int) -> dict[str, Any]:
    agent = me()
    _allowed(agent, recording_id, "view")
    row = _found(recording_id)
    _audit(agent, "view", recording_id)
    return _json(row)


@bp.get("/recordings/<int:recording_id>/audio")
@login_required()
def audio(recording_id: int) -> Response:
    agent = me()
    _allowed(agent, recording_id, "play")
    row = _found(recording_id)
    if row.status != "stored" or not row.path:
        raise ApiError(404, f"recording {recording_id} has no audio ({row.status})")
    calls_dir = _config().calls_dir
    path = (calls_dir / row.path).resolve()
    if not path.is_relative_to(calls_dir) or not path.is_file():
        raise ApiError(404, f"recording {recording_id}: the file is missing")
    _audit(agent, "play", recording_id)
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)
