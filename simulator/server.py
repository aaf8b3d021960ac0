"""The simulator's HTTP face: ARI's URL layout, auth, status codes and the events
WebSocket, plus ``/_sim/`` control endpoints for tests, demos and people.

Errors are ARI's shape (``{"message": …}``) with the status codes the API
description lists for each operation. Fault injection (drop the event sockets, answer
the next N requests with 503, delay events) lives here because it is about the wire.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ivr.ari.models import format_ari_time
from simulator import endpoints, snoop
from simulator.callers import (
    ScriptedCall,
    ScriptError,
    parse_call_line,
    parse_script,
    run_script,
)
from simulator.engine import SimEngine
from simulator.model import PhoneBehaviour, SimError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _q(request: web.Request, name: str, required: bool = False) -> str | None:
    value = request.query.get(name)
    if required and not value:
        raise SimError(400, f"Required parameter {name} is missing")
    return value


def _q_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise SimError(400, f"Invalid value for {name}") from None


def _list(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


class _EventConnection:
    """One events WebSocket; events go out in order, optionally delayed."""

    def __init__(self, sim: AriSimulator, ws: web.WebSocketResponse, apps: list[str]) -> None:
        self.sim = sim
        self.ws = ws
        self.apps = apps
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        # Cut while its handshake was still going out: cut as soon as it is done.
        self.cut = False

    def sink(self, event: dict[str, Any]) -> None:
        self.queue.put_nowait((asyncio.get_running_loop().time(), event))

    async def write(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.ws.closed:
            queued_at, event = await self.queue.get()
            delay = queued_at + self.sim.event_delay - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(json.dumps(event))
            except (ConnectionError, RuntimeError):
                return


class AriSimulator:
    def __init__(
        self,
        username: str,
        password: str,
        sounds_dir: Path,
        recordings_dir: Path,
        routes: dict[tuple[str, str], str] | None = None,
        moh_classes: Iterable[str] = ("default",),
    ) -> None:
        """``moh_classes``: the music-on-hold classes configured (musiconhold.conf); a
        class not among them plays ``default`` instead, and with neither nothing plays."""
        if not password:
            raise ValueError("the simulator needs a password (no default credentials)")
        self.username = username
        self.password = password
        self.engine = SimEngine(
            Path(sounds_dir), Path(recordings_dir), routes, moh_classes=moh_classes
        )
        self.calls: dict[str, ScriptedCall] = {}
        self.fail_remaining = 0
        self.fail_status = 503
        self.fail_match = ""
        self.event_delay = 0.0
        self.refusing_events = False
        self.requests = 0
        self._connections: set[_EventConnection] = set()
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._host, self._port = host, sockets[0].getsockname()[1] if sockets else port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._connections):
            await conn.ws.close()
        self.engine.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the Python control API ---------------------------------------------------------

    async def place_call(
        self, to: str, caller_number: str, caller_name: str = "", script: str = ""
    ) -> ScriptedCall:
        steps = parse_script(script)
        ch = self.engine.inbound_call(to, caller_number, caller_name)
        call = ScriptedCall(ch, steps)
        self.calls[ch.id] = call
        call.task = self._spawn(run_script(self.engine, call))
        return call

    def set_phone(
        self,
        endpoint: str,
        answer_after: float | None = 1.0,
        busy: bool = False,
        hangup_after: float | None = None,
        registered: bool = True,
    ) -> None:
        """How the phone on ``endpoint`` (a dial string, ``PJSIP/8001``) behaves when rung,
        and whether it is registered: originating to an unregistered PJSIP endpoint fails
        (500). The endpoint is listed by ``GET /endpoints`` from now on."""
        self.engine.phones[endpoint] = PhoneBehaviour(answer_after, busy, hangup_after)
        endpoints.set_registered(self.engine, endpoint, registered)

    def register_phone(self, endpoint: str, registered: bool = True) -> None:
        """The phone on ``endpoint`` registers (or goes): the endpoint turns ``online``
        (``offline``), with ``EndpointStateChange`` to the apps subscribed to it."""
        endpoints.set_registered(self.engine, endpoint, registered)

    def drop_websockets(self, mode: str = "abort") -> int:
        """Cut every events socket: ``abort`` like a network failure, ``close`` politely."""
        dropped = 0
        for conn in list(self._connections):
            dropped += 1
            conn.cut = True
            if not conn.ws.prepared:
                continue  # the handshake is still going out: _events cuts it when done
            if mode == "abort":
                transport = conn.ws._req.transport if conn.ws._req is not None else None
                if transport is not None:
                    transport.abort()
            self._spawn(conn.ws.close())
        return dropped

    def fail_next(self, count: int, status: int = 503, match: str = "") -> None:
        """Answer the next ``count`` ARI requests with ``status``; with ``match``, only
        requests whose ``"METHOD /path"`` starts with it (e.g. ``"DELETE /ari/channels/"``).
        Not the events socket: ``refuse_events`` keeps that one out."""
        self.fail_remaining, self.fail_status, self.fail_match = count, status, match

    def delay_events(self, seconds: float) -> None:
        self.event_delay = seconds

    def refuse_events(self, refuse: bool = True) -> None:
        """Refuse new events sockets (503) until called with False: with
        ``drop_websockets`` an outage of the controller's link that lasts."""
        self.refusing_events = refuse

    def send_raw(self, text: str) -> int:
        """Send ``text`` as one frame on every events socket, as is (a malformed event)."""
        for conn in list(self._connections):
            self._spawn(conn.ws.send_str(text))
        return len(self._connections)

    @property
    def connected_apps(self) -> list[str]:
        return sorted(self.engine.apps)

    @property
    def event_sockets(self) -> int:
        """Events sockets this server holds, from the start of their handshake."""
        return len(self._connections)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- HTTP ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth, self._faults, self._errors])
        r = app.router
        ari = "/ari"
        r.add_get(f"{ari}/events", self._events)
        r.add_get(f"{ari}/asterisk/ping", self._ping)
        r.add_get(f"{ari}/asterisk/info", self._info)
        r.add_get(f"{ari}/applications", self._applications)
        r.add_get(f"{ari}/applications/{{name}}", self._application)
        r.add_post(f"{ari}/applications/{{name}}/subscription", self._subscription)
        r.add_delete(f"{ari}/applications/{{name}}/subscription", self._subscription)
        r.add_put(f"{ari}/applications/{{name}}/eventFilter", self._not_simulated)
        r.add_get(f"{ari}/endpoints", self._list_endpoints)
        r.add_put(f"{ari}/endpoints/sendMessage", self._not_simulated)
        r.add_post(f"{ari}/endpoints/refer", self._not_simulated)
        r.add_get(f"{ari}/endpoints/{{tech}}", self._list_endpoints)
        r.add_get(f"{ari}/endpoints/{{tech}}/{{resource}}", self._get_endpoint)
        r.add_put(f"{ari}/endpoints/{{tech}}/{{resource}}/sendMessage", self._not_simulated)
        r.add_post(f"{ari}/endpoints/{{tech}}/{{resource}}/refer", self._not_simulated)
        r.add_get(f"{ari}/channels", self._list_channels)
        r.add_post(f"{ari}/channels", self._originate)
        r.add_post(f"{ari}/channels/create", self._not_simulated)
        r.add_post(f"{ari}/channels/externalMedia", self._not_simulated)
        r.add_get(f"{ari}/channels/{{id}}", self._get_channel)
        r.add_post(f"{ari}/channels/{{id}}", self._originate)
        r.add_delete(f"{ari}/channels/{{id}}", self._hangup)
        r.add_post(f"{ari}/channels/{{id}}/continue", self._continue)
        r.add_post(f"{ari}/channels/{{id}}/answer", self._answer)
        r.add_post(f"{ari}/channels/{{id}}/ring", self._ring)
        r.add_delete(f"{ari}/channels/{{id}}/ring", self._ring)
        r.add_post(f"{ari}/channels/{{id}}/dtmf", self._dtmf)
        r.add_post(f"{ari}/channels/{{id}}/moh", self._moh)
        r.add_delete(f"{ari}/channels/{{id}}/moh", self._moh)
        r.add_post(f"{ari}/channels/{{id}}/play", self._play)
        r.add_post(f"{ari}/channels/{{id}}/play/{{pid}}", self._play)
        r.add_post(f"{ari}/channels/{{id}}/record", self._record)
        r.add_get(f"{ari}/channels/{{id}}/variable", self._get_var)
        r.add_post(f"{ari}/channels/{{id}}/variable", self._set_var)
        r.add_post(f"{ari}/channels/{{id}}/snoop", self._snoop)
        r.add_post(f"{ari}/channels/{{id}}/snoop/{{sid}}", self._snoop)
        for op in ("move", "redirect", "mute", "hold", "silence", "dial", "progress"):
            r.add_route("*", f"{ari}/channels/{{id}}/{op}", self._not_simulated)
        r.add_get(f"{ari}/bridges", self._list_bridges)
        r.add_post(f"{ari}/bridges", self._create_bridge)
        r.add_get(f"{ari}/bridges/{{id}}", self._get_bridge)
        r.add_post(f"{ari}/bridges/{{id}}", self._create_bridge)
        r.add_delete(f"{ari}/bridges/{{id}}", self._destroy_bridge)
        r.add_post(f"{ari}/bridges/{{id}}/addChannel", self._add_channel)
        r.add_post(f"{ari}/bridges/{{id}}/removeChannel", self._remove_channel)
        r.add_post(f"{ari}/bridges/{{id}}/moh", self._moh)
        r.add_delete(f"{ari}/bridges/{{id}}/moh", self._moh)
        r.add_post(f"{ari}/bridges/{{id}}/play", self._play)
        r.add_post(f"{ari}/bridges/{{id}}/play/{{pid}}", self._play)
        r.add_post(f"{ari}/bridges/{{id}}/record", self._record)
        r.add_get(f"{ari}/playbacks/{{id}}", self._get_playback)
        r.add_delete(f"{ari}/playbacks/{{id}}", self._stop_playback)
        r.add_get(f"{ari}/recordings/stored", self._list_stored)
        r.add_get(f"{ari}/recordings/stored/{{name:.+}}/file", self._stored_file)
        r.add_get(f"{ari}/recordings/stored/{{name:.+}}", self._get_stored)
        r.add_delete(f"{ari}/recordings/stored/{{name:.+}}", self._delete_stored)
        r.add_post(f"{ari}/recordings/live/{{name:.+}}/stop", self._stop_live)
        r.add_get(f"{ari}/recordings/live/{{name:.+}}", self._get_live)
        r.add_delete(f"{ari}/recordings/live/{{name:.+}}", self._cancel_live)
        sim = "/_sim"
        r.add_get(f"{sim}/state", self._sim_state)
        r.add_get(f"{sim}/stats", self._sim_stats)
        r.add_get(f"{sim}/calls", self._sim_calls)
        r.add_post(f"{sim}/calls", self._sim_place_call)
        r.add_get(f"{sim}/calls/{{id}}", self._sim_call)
        r.add_post(f"{sim}/calls/{{id}}/dtmf", self._sim_call_dtmf)
        r.add_post(f"{sim}/calls/{{id}}/hangup", self._sim_call_hangup)
        r.add_put(f"{sim}/phones/{{endpoint:.+}}", self._sim_phone)
        r.add_post(f"{sim}/endpoints/{{tech}}/{{resource}}", self._sim_register)
        r.add_post(f"{sim}/faults/drop-websockets", self._sim_drop)
        r.add_post(f"{sim}/faults/fail-next", self._sim_fail_next)
        r.add_post(f"{sim}/faults/event-delay", self._sim_event_delay)
        r.add_post(f"{sim}/faults/refuse-events", self._sim_refuse_events)
        r.add_post(f"{sim}/faults/raw-event", self._sim_raw_event)
        return app

    # -- middlewares -----------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        creds = None
        if header.startswith("Basic "):
            try:
                creds = base64.b64decode(header[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif "api_key" in request.query:
            creds = request.query["api_key"]
        if creds is None:
            return False
        user, _, password = creds.partition(":")
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(
            password, self.password
        )

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._authorised(request):
            resp = _error(401, "Authentication required")
            resp.headers["WWW-Authenticate"] = 'Basic realm="Asterisk REST Interface"'
            return resp
        return await handler(request)

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/ari/") and request.path != "/ari/events":
            self.requests += 1
            if self.fail_remaining > 0 and f"{request.method} {request.path}".startswith(
                self.fail_match
            ):
                self.fail_remaining -= 1
                return _error(self.fail_status, "Service Unavailable")
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except SimError as exc:
            return _error(exc.status, exc.message)
        except ScriptError as exc:
            return _error(400, str(exc))
        except web.HTTPException as exc:
            if exc.status == 404:
                return _error(404, "Resource not found")
            if exc.status == 405:
                return _error(405, "Method not allowed")
            raise

    # -- events ------------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        apps = _list(request.query.get("app", ""))
        if not apps:
            return _error(400, "Missing app parameter")
        if self.refusing_events:
            return _error(503, "Service Unavailable")
        ws = web.WebSocketResponse(heartbeat=None)
        conn = _EventConnection(self, ws, apps)
        # Held from before the handshake: the client may count itself connected as soon
        # as the answer arrives, and a drop from then on must find this connection.
        self._connections.add(conn)
        try:
            await ws.prepare(request)
        except BaseException:
            self._connections.discard(conn)
            raise
        if conn.cut:
            self._connections.discard(conn)
            transport = request.transport
            if transport is not None:
                transport.abort()
            return ws
        for app in apps:
            replaced = self.engine.register_app(app, conn.sink)
            if replaced is not None:
                # The old connection hears that it lost the app, then nothing more.
                replaced(self._app_event("ApplicationReplaced", app))
        writer = asyncio.create_task(conn.write())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            for app in apps:
                self.engine.unregister_app(app, conn.sink)
            self._connections.discard(conn)
            # Let queued events (e.g. ApplicationReplaced) go out before we stop writing.
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._flush(conn), 0.2)
            writer.cancel()
        return ws

    async def _flush(self, conn: _EventConnection) -> None:
        # Bounded by the caller's wait_for; events are few at this point.
        while not conn.queue.empty() and not conn.ws.closed:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def _app_event(self, etype: str, app: str) -> dict[str, Any]:
        return {
            "type": etype,
            "timestamp": format_ari_time(datetime.now(UTC)),
            "application": app,
            "asterisk_id": self.engine.asterisk_id,
        }

    # -- asterisk / applications -------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "asterisk_id": self.engine.asterisk_id,
                "ping": "pong",
                "timestamp": format_ari_time(datetime.now(UTC)),
            }
        )

    async def _info(self, request: web.Request) -> web.Response:
        now = format_ari_time(datetime.now(UTC))
        return web.json_response(
            {
                "system": {
                    "version": "22.10.1-hotline-simulator",
                    "entity_id": self.engine.asterisk_id,
                },
                "config": {
                    "name": "hotline-simulator",
                    "default_language": "en",
                    "setid": {"user": "asterisk", "group": "asterisk"},
                },
                "status": {"startup_time": now, "last_reload_time": now},
            }
        )

    def _app_json(self, name: str) -> dict[str, Any]:
        e = self.engine
        return {
            "name": name,
            "channel_ids": [c.id for c in e.channels.values() if name in c.subscribed],
            "bridge_ids": [b.id for b in e.bridges.values() if name in b.subscribed],
            "endpoint_ids": endpoints.subscribed_endpoints(e, name),
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    async def _applications(self, request: web.Request) -> web.Response:
        return web.json_response([self._app_json(n) for n in sorted(self.engine.apps)])

    async def _application(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.engine.apps:
            raise SimError(404, "Application not found")
        return web.json_response(self._app_json(name))

    async def _subscription(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        sources = _list(request.query.get("eventSource", ""))
        if request.method == "POST":
            endpoints.subscribe(self.engine, name, sources)
        else:
            endpoints.unsubscribe(self.engine, name, sources)
        return web.json_response(self._app_json(name))

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        return web.json_response(
            endpoints.list_endpoints(self.engine, request.match_info.get("tech"))
        )

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        return web.json_response(
            endpoints.get_endpoint(
                self.engine, request.match_info["tech"], request.match_info["resource"]
            )
        )

    async def _not_simulated(self, request: web.Request) -> web.Response:
        return _error(501, f"{request.method} {request.path} is not simulated")

    # -- channels ---------------------------------------------------------------------------

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response([c.to_json() for c in self.engine.channels.values()])

    async def _get_channel(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.channel(request.match_info["id"]).to_json())

    async def _originate(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise SimError(400, "Request body is not valid JSON") from None
        variables = body.get("variables", {}) if isinstance(body, dict) else {}
        if not isinstance(variables, dict):
            raise SimError(400, "variables must be an object")
        ch = self.engine.originate(
            _q(request, "endpoint", required=True) or "",
            app=_q(request, "app"),
            app_args=_q(request, "appArgs"),
            extension=_q(request, "extension"),
            context=_q(request, "context"),
            priority=_q_int(request, "priority"),
            caller_id=_q(request, "callerId"),
            timeout=_q_int(request, "timeout") or 30,
            variables={str(k): str(v) for k, v in variables.items()},
            channel_id=request.match_info.get("id") or _q(request, "channelId"),
        )
        return web.json_response(ch.to_json())

    async def _hangup(self, request: web.Request) -> web.Response:
        self.engine.api_hangup(
            request.match_info["id"], _q(request, "reason"), _q(request, "reason_code")
        )
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        self.engine.continue_in_dialplan(
            request.match_info["id"],
            _q(request, "context"),
            _q(request, "extension"),
            _q_int(request, "priority"),
        )
        return web.Response(status=204)

    async def _answer(self, request: web.Request) -> web.Response:
        self.engine.answer(request.match_info["id"])
        return web.Response(status=204)

    async def _ring(self, request: web.Request) -> web.Response:
        self.engine.ring(request.match_info["id"], on=request.method == "POST")
        return web.Response(status=204)

    async def _dtmf(self, request: web.Request) -> web.Response:
        self.engine.send_dtmf(request.match_info["id"], _q(request, "dtmf") or "")
        return web.Response(status=204)

    async def _moh(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        target = (
            self.engine.stasis_channel(ident)
            if "/channels/" in request.path
            else self.engine.bridge(ident)
        )
        if request.method == "POST":
            self.engine.start_moh(target, _q(request, "mohClass"))
        else:
            self.engine.stop_moh(target)
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        kind = "channel" if "/channels/" in request.path else "bridge"
        pb = self.engine.play(
            kind,
            request.match_info["id"],
            _list(_q(request, "media", required=True) or ""),
            _q(request, "lang"),
            request.match_info.get("pid") or _q(request, "playbackId"),
        )
        return web.json_response(pb.to_json(), status=201)

    async def _record(self, request: web.Request) -> web.Response:
        kind = "channel" if "/channels/" in request.path else "bridge"
        max_d = _q_int(request, "maxDurationSeconds")
        max_s = _q_int(request, "maxSilenceSeconds")
        rec = self.engine.record(
            kind,
            request.match_info["id"],
            _q(request, "name", required=True) or "",
            _q(request, "format", required=True) or "",
            float(max_d) if max_d is not None else None,
            _q(request, "ifExists") or "fail",
            max_silence=float(max_s) if max_s is not None else None,
            terminate_on=_q(request, "terminateOn") or "none",
        )
        return web.json_response(rec.to_json(), status=201)

    async def _snoop(self, request: web.Request) -> web.Response:
        ch = snoop.snoop(
            self.engine,
            request.match_info["id"],
            spy=_q(request, "spy"),
            whisper=_q(request, "whisper"),
            app=_q(request, "app"),
            app_args=_q(request, "appArgs"),
            snoop_id=request.match_info.get("sid") or _q(request, "snoopId"),
        )
        return web.json_response(ch.to_json())

    async def _get_var(self, request: web.Request) -> web.Response:
        value = self.engine.get_var(
            request.match_info["id"], _q(request, "variable", required=True) or ""
        )
        return web.json_response({"value": value})

    async def _set_var(self, request: web.Request) -> web.Response:
        self.engine.set_var(
            request.match_info["id"],
            _q(request, "variable", required=True) or "",
            _q(request, "value") or "",
        )
        return web.Response(status=204)

    # -- bridges ---------------------------------------------------------------------------

    async def _list_bridges(self, request: web.Request) -> web.Response:
        return web.json_response([b.to_json() for b in self.engine.bridges.values()])

    async def _get_bridge(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.bridge(request.match_info["id"]).to_json())

    async def _create_bridge(self, request: web.Request) -> web.Response:
        # The app that creates a bridge is subscribed to it; we take the first app of
        # the requester's own connection when there is exactly one.
        apps = sorted(self.engine.apps)
        br = self.engine.create_bridge(
            _q(request, "type") or "mixing",
            request.match_info.get("id") or _q(request, "bridgeId"),
            _q(request, "name") or "",
            apps[0] if len(apps) == 1 else None,
        )
        return web.json_response(br.to_json())

    async def _destroy_bridge(self, request: web.Request) -> web.Response:
        self.engine.destroy_bridge(request.match_info["id"])
        return web.Response(status=204)

    async def _add_channel(self, request: web.Request) -> web.Response:
        await self.engine.add_channels(
            request.match_info["id"], _list(_q(request, "channel", required=True) or "")
        )
        return web.Response(status=204)

    async def _remove_channel(self, request: web.Request) -> web.Response:
        self.engine.remove_channels(
            request.match_info["id"], _list(_q(request, "channel", required=True) or "")
        )
        return web.Response(status=204)

    # -- playbacks and recordings -------------------------------------------------------------

    async def _get_playback(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.get_playback(request.match_info["id"]).to_json())

    async def _stop_playback(self, request: web.Request) -> web.Response:
        self.engine.stop_playback(request.match_info["id"])
        return web.Response(status=204)

    async def _list_stored(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.stored_recordings())

    async def _get_stored(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.engine.stored_recording_path(name)
        return web.json_response({"name": name, "format": "wav"})

    async def _stored_file(self, request: web.Request) -> web.StreamResponse:
        path = self.engine.stored_recording_path(request.match_info["name"])
        return web.FileResponse(path, headers={"Content-Type": "audio/wav"})

    async def _delete_stored(self, request: web.Request) -> web.Response:
        self.engine.stored_recording_path(request.match_info["name"]).unlink()
        return web.Response(status=204)

    async def _get_live(self, request: web.Request) -> web.Response:
        return web.json_response(
            self.engine.get_live_recording(request.match_info["name"]).to_json()
        )

    async def _stop_live(self, request: web.Request) -> web.Response:
        self.engine.stop_recording(request.match_info["name"])
        return web.Response(status=204)

    async def _cancel_live(self, request: web.Request) -> web.Response:
        self.engine.stop_recording(request.match_info["name"], cancel=True)
        return web.Response(status=204)

    # -- /_sim control ---------------------------------------------------------------------------

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise SimError(400, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise SimError(400, "body must be a JSON object")
        return body

    async def _sim_stats(self, request: web.Request) -> web.Response:
        times = sorted(self.engine.reaction_times)

        def pct(p: float) -> float | None:
            return times[min(len(times) - 1, int(p * len(times)))] if times else None

        e = self.engine
        by_cause: dict[str, list[float]] = {}
        for cause, seconds in zip(e.reaction_causes, e.reaction_times, strict=True):
            by_cause.setdefault(cause, []).append(seconds)
        ended = [c for c in self.calls.values() if c.is_over]
        return web.json_response(
            {
                "reactions": len(times),
                "reaction_p50_ms": None if not times else round(1000 * (pct(0.5) or 0), 3),
                "reaction_p99_ms": None if not times else round(1000 * (pct(0.99) or 0), 3),
                "reaction_max_ms": None if not times else round(1000 * times[-1], 3),
                # The same figures per kind of event: "stasis", "playback", "dtmf"; with
                # "unanswered" events (still pending at hang-up) and the figures counting
                # their wait so far, a lower bound of what the reaction would have taken.
                "reaction_by_cause": {
                    cause: {
                        **_percentiles(by_cause.get(cause, [])),
                        "unanswered": len(e.pending_at_hangup.get(cause, [])),
                        "with_unanswered": _percentiles(
                            by_cause.get(cause, []) + e.pending_at_hangup.get(cause, [])
                        ),
                    }
                    for cause in sorted(set(by_cause) | set(e.pending_at_hangup))
                },
                "stasis_channels": e.stasis_channels,
                "stasis_channels_max": e.stasis_channels_max,
                "calls_placed": len(self.calls),
                "calls_ended": len(ended),
                "calls_answered": sum(c.answered for c in self.calls.values()),
                "hangup_by": {
                    who: sum(c.hangup_by == who for c in ended)
                    for who in sorted({str(c.hangup_by) for c in ended})
                },
                "requests": self.requests,
                "events_emitted": self.engine.events_emitted,
            }
        )

    async def _sim_state(self, request: web.Request) -> web.Response:
        e = self.engine
        return web.json_response(
            {
                "apps": self.connected_apps,
                "channels": len(e.channels),
                "bridges": len(e.bridges),
                "playbacks": len(e.playbacks),
                "recordings": len(e.live_recordings),
                "event_sockets": self.event_sockets,
                "events_emitted": e.events_emitted,
                "requests": self.requests,
                "fail_remaining": self.fail_remaining,
                "event_delay": self.event_delay,
                "refusing_events": self.refusing_events,
            }
        )

    async def _sim_calls(self, request: web.Request) -> web.Response:
        return web.json_response([c.as_dict() for c in self.calls.values()])

    async def _sim_place_call(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if "line" in body:
            to, number, name, _ = parse_call_line(str(body["line"]))
            script = str(body["line"]).partition(",")[2]
        else:
            to, number = str(body.get("to", "")), str(body.get("from", ""))
            name, script = str(body.get("name", "")), str(body.get("script", ""))
        if not to or not number:
            raise SimError(400, "'to' and 'from' are required")
        call = await self.place_call(to, number, name, script)
        return web.json_response(call.as_dict(), status=201)

    def _call(self, request: web.Request) -> ScriptedCall:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            raise SimError(404, "no such call")
        return call

    async def _sim_call(self, request: web.Request) -> web.Response:
        return web.json_response(self._call(request).as_dict())

    async def _sim_call_dtmf(self, request: web.Request) -> web.Response:
        call, body = self._call(request), await self._json_body(request)
        for digit in str(body.get("digits", "")):
            self.engine.caller_dtmf(call.channel, digit)
        return web.Response(status=204)

    async def _sim_call_hangup(self, request: web.Request) -> web.Response:
        self.engine.caller_hangup(self._call(request).channel)
        return web.Response(status=204)

    async def _sim_phone(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        answer_after = body.get("answer_after", 1.0)
        hangup_after = body.get("hangup_after")
        self.set_phone(
            request.match_info["endpoint"],
            float(answer_after) if answer_after is not None else None,
            bool(body.get("busy", False)),
            float(hangup_after) if hangup_after is not None else None,
            bool(body.get("registered", True)),
        )
        return web.Response(status=204)

    async def _sim_register(self, request: web.Request) -> web.Response:
        """``POST /_sim/endpoints/{tech}/{resource}?registered=true|false``: the phone
        registers or goes; answers the endpoint as ``GET /ari/endpoints/…`` shows it."""
        value = request.query.get("registered", "")
        if value not in ("true", "false"):
            raise SimError(400, "registered must be true or false")
        dial = f"{request.match_info['tech']}/{request.match_info['resource']}"
        if endpoints.is_local(dial):
            raise SimError(400, "Local channels are not endpoints")
        self.register_phone(dial, value == "true")
        tech, _, resource = endpoints.endpoint_id(dial).partition("/")
        return web.json_response(endpoints.get_endpoint(self.engine, tech, resource))

    async def _sim_drop(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        return web.json_response({"dropped": self.drop_websockets(str(body.get("mode", "abort")))})

    async def _sim_fail_next(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        self.fail_next(
            int(body.get("count", 1)), int(body.get("status", 503)), str(body.get("match", ""))
        )
        return web.Response(status=204)

    async def _sim_event_delay(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        self.delay_events(float(body.get("seconds", 0.0)))
        return web.Response(status=204)

    async def _sim_refuse_events(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        self.refuse_events(bool(body.get("refuse", True)))
        return web.Response(status=204)

    async def _sim_raw_event(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        return web.json_response({"sent": self.send_raw(str(body.get("text", "")))})


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    """count, p50/p99/max in ms of a list of seconds (nearest rank, as above)."""
    times = sorted(values)

    def ms(p: float) -> float | None:
        if not times:
            return None
        return round(1000 * times[min(len(times) - 1, int(p * len(times)))], 3)

    return {"count": len(times), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "max_ms": ms(1.0)}


async def serve_forever(
    host: str, port: int, username: str, password: str, sounds_dir: Path, recordings_dir: Path
) -> None:
    sim = AriSimulator(username, password, sounds_dir, recordings_dir)
    await sim.start(host, port)
    print(f"ARI simulator listening on {sim.base_url}/ari (user {username})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
