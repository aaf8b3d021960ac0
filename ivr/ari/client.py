"""The REST half of our ARI client: one pooled keep-alive HTTP session, typed results.

A new connection per request costs Asterisk and us dearly under load (see
``docs/decisions/0001-own-ari-client.md``), so every request goes through one
``aiohttp`` session with a bounded pool of keep-alive connections. Failures are mapped
to the typed errors of ``ivr.ari.errors``.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from ivr.ari import errors
from ivr.ari.models import Bridge, Channel, Endpoint, LiveRecording, Playback


@dataclass(frozen=True)
class AriConfig:
    url: str  # Asterisk's HTTP server, e.g. http://127.0.0.1:8088 (ARI is under /ari)
    username: str
    password: str
    app: str
    request_timeout: float = 5.0
    max_connections: int = 32
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_factor: float = 2.0
    backoff_jitter: float = 0.5
    ping_interval: float = 5.0
    ping_timeout: float = 2.0

    @property
    def base(self) -> str:
        return self.url.rstrip("/") + "/ari"

    @property
    def events_url(self) -> str:
        ws = "wss" if self.url.startswith("https") else "ws"
        return ws + ":" + self.base.split(":", 1)[1] + "/events"


Params = Mapping[str, str | int | float | bool | None]


def _query(params: Params | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _p(ident: str) -> str:
    return quote(ident, safe="")


class AriClient:
    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._control: aiohttp.ClientSession | None = None
        self.requests = 0
        self.failures = 0
        self.channels = Channels(self)
        self.bridges = Bridges(self)
        self.playbacks = Playbacks(self)
        self.recordings = Recordings(self)
        self.asterisk = Asterisk(self)
        self.endpoints = Endpoints(self)
        self.applications = Applications(self)

    async def open(self) -> None:
        auth = {"Authorization": _basic_auth(self.config.username, self.config.password)}
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=auth,
                connector=aiohttp.TCPConnector(
                    limit=self.config.max_connections, keepalive_timeout=30
                ),
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
            )
        if self._control is None:
            # The events socket and the liveness ping get connections of their own: under
            # load every pooled connection may be busy with call requests, and a ping
            # queued behind them would time out and make us drop a healthy socket.
            self._control = aiohttp.ClientSession(
                headers=auth,
                connector=aiohttp.TCPConnector(limit=2, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
            )

    async def close(self) -> None:
        for session in (self._session, self._control):
            if session is not None:
                await session.close()
        self._session = self._control = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient.open() was not called")
        return self._session

    @property
    def control_session(self) -> aiohttp.ClientSession:
        """Connections reserved for the events socket and the liveness ping."""
        if self._control is None:
            raise RuntimeError("AriClient.open() was not called")
        return self._control

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        control: bool = False,
    ) -> Any:
        """One REST request; returns the decoded JSON body (None for 204)."""
        self.requests += 1
        url = self.config.base + path
        kwargs: dict[str, Any] = {"params": _query(params)}
        if body is not None:
            kwargs["json"] = body
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            session = self.control_session if control else self.session
            async with session.request(method, url, **kwargs) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    self.failures += 1
                    raise errors.error_for_status(
                        resp.status, _message(text, resp.reason), method=method, path=path
                    )
                if not text:
                    return None
                try:
                    return json.loads(text)
                except ValueError:
                    raise errors.AriServerError(
                        "response is not JSON", method=method, path=path
                    ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.failures += 1
            raise errors.AriConnectionError(
                f"{type(exc).__name__}: {exc}".rstrip(": "), method=method, path=path
            ) from exc

    async def request_bytes(self, method: str, path: str, timeout: float | None = None) -> bytes:
        """One REST request whose answer is a file (``binary``), returned whole."""
        self.requests += 1
        url = self.config.base + path
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self.session.request(method, url, **kwargs) as resp:
                if resp.status >= 400:
                    self.failures += 1
                    text = await resp.text()
                    raise errors.error_for_status(
                        resp.status, _message(text, resp.reason), method=method, path=path
                    )
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.failures += 1
            raise errors.AriConnectionError(
                f"{type(exc).__name__}: {exc}".rstrip(": "), method=method, path=path
            ) from exc


def _message(text: str, reason: str | None) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip() or reason or "error"
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return reason or "error"


class _Resource:
    def __init__(self, client: AriClient) -> None:
        self._c = client


class Channels(_Resource):
    async def list(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self._c.request("GET", "/channels")]

    async def get(self, channel_id: str) -> Channel:
        return Channel.from_json(await self._c.request("GET", f"/channels/{_p(channel_id)}"))

    async def originate(
        self,
        endpoint: str,
        *,
        extension: str | None = None,
        context: str | None = None,
        priority: int | None = None,
        app: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
    ) -> Channel:
        params: dict[str, str | int | None] = {
            "endpoint": endpoint,
            "extension": extension,
            "context": context,
            "priority": priority,
            "app": app,
            "appArgs": app_args,
            "callerId": caller_id,
            "timeout": timeout,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(await self._c.request("POST", "/channels", params, body))

    async def answer(self, channel_id: str) -> None:
        await self._c.request("POST", f"/channels/{_p(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self._c.request("POST", f"/channels/{_p(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self._c.request("DELETE", f"/channels/{_p(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._c.request("DELETE", f"/channels/{_p(channel_id)}", {"reason": reason})

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        params = {"context": context, "extension": extension, "priority": priority}
        await self._c.request("POST", f"/channels/{_p(channel_id)}/continue", params)

    async def play(
        self,
        channel_id: str,
        media: builtins.list[str],
        playback_id: str | None = None,
        lang: str | None = None,
    ) -> Playback:
        params = {"media": ",".join(media), "lang": lang, "playbackId": playback_id}
        data = await self._c.request("POST", f"/channels/{_p(channel_id)}/play", params)
        return Playback.from_json(data)

    async def record(
        self,
        channel_id: str,
        name: str,
        format: str = "wav",
        max_duration_seconds: int | None = None,
        if_exists: str = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording:
        params = {
            "name": name,
            "format": format,
            "maxDurationSeconds": max_duration_seconds,
            "ifExists": if_exists,
            "beep": beep,
            "terminateOn": terminate_on,
        }
        data = await self._c.request("POST", f"/channels/{_p(channel_id)}/record", params)
        return LiveRecording.from_json(data)

    async def send_dtmf(
        self, channel_id: str, dtmf: str, between: int | None = None, duration: int | None = None
    ) -> None:
        params = {"dtmf": dtmf, "between": between, "duration": duration}
        await self._c.request("POST", f"/channels/{_p(channel_id)}/dtmf", params)

    async def set_var(self, channel_id: str, variable: str, value: str) -> None:
        params = {"variable": variable, "value": value}
        await self._c.request("POST", f"/channels/{_p(channel_id)}/variable", params)

    async def get_var(self, channel_id: str, variable: str) -> str:
        data = await self._c.request(
            "GET", f"/channels/{_p(channel_id)}/variable", {"variable": variable}
        )
        return str(data.get("value", "")) if isinstance(data, dict) else ""

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self._c.request("POST", f"/channels/{_p(channel_id)}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self._c.request("DELETE", f"/channels/{_p(channel_id)}/moh")

    async def snoop_channel(
        self,
        channel_id: str,
        app: str,
        spy: str = "both",
        whisper: str = "none",
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> Channel:
        """Spy (``in``/``out``/``both``) and/or whisper on a channel through a new snoop
        channel placed into ``app``; its ``StasisStart`` (with ``app_args``) follows."""
        params = {"app": app, "spy": spy, "whisper": whisper, "appArgs": app_args}
        path = f"/channels/{_p(channel_id)}/snoop"
        if snoop_id is not None:
            path += f"/{_p(snoop_id)}"  # snoopChannelWithId
        return Channel.from_json(await self._c.request("POST", path, params))


class Bridges(_Resource):
    async def list(self) -> list[Bridge]:
        return [Bridge.from_json(b) for b in await self._c.request("GET", "/bridges")]

    async def get(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self._c.request("GET", f"/bridges/{_p(bridge_id)}"))

    async def create(
        self, type: str = "mixing", bridge_id: str | None = None, name: str | None = None
    ) -> Bridge:
        params = {"type": type, "bridgeId": bridge_id, "name": name}
        return Bridge.from_json(await self._c.request("POST", "/bridges", params))

    async def destroy(self, bridge_id: str) -> None:
        await self._c.request("DELETE", f"/bridges/{_p(bridge_id)}")

    async def add_channel(self, bridge_id: str, channel_ids: builtins.list[str]) -> None:
        params = {"channel": ",".join(channel_ids)}
        await self._c.request("POST", f"/bridges/{_p(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, channel_ids: builtins.list[str]) -> None:
        params = {"channel": ",".join(channel_ids)}
        await self._c.request("POST", f"/bridges/{_p(bridge_id)}/removeChannel", params)

    async def play(
        self, bridge_id: str, media: builtins.list[str], playback_id: str | None = None
    ) -> Playback:
        params = {"media": ",".join(media), "playbackId": playback_id}
        data = await self._c.request("POST", f"/bridges/{_p(bridge_id)}/play", params)
        return Playback.from_json(data)

    async def record(
        self, bridge_id: str, name: str, format: str = "wav", if_exists: str = "fail"
    ) -> LiveRecording:
        params = {"name": name, "format": format, "ifExists": if_exists}
        data = await self._c.request("POST", f"/bridges/{_p(bridge_id)}/record", params)
        return LiveRecording.from_json(data)

    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self._c.request("POST", f"/bridges/{_p(bridge_id)}/moh", {"mohClass": moh_class})

    async def stop_moh(self, bridge_id: str) -> None:
        await self._c.request("DELETE", f"/bridges/{_p(bridge_id)}/moh")


class Playbacks(_Resource):
    async def get(self, playback_id: str) -> Playback:
        return Playback.from_json(await self._c.request("GET", f"/playbacks/{_p(playback_id)}"))

    async def stop(self, playback_id: str) -> None:
        await self._c.request("DELETE", f"/playbacks/{_p(playback_id)}")


class Recordings(_Resource):
    async def get_live(self, name: str) -> LiveRecording:
        data = await self._c.request("GET", f"/recordings/live/{_p(name)}")
        return LiveRecording.from_json(data)

    async def stop_live(self, name: str) -> None:
        """Stop a live recording and store it (RecordingFinished follows)."""
        await self._c.request("POST", f"/recordings/live/{_p(name)}/stop")

    async def cancel_live(self, name: str) -> None:
        """Stop a live recording and discard it."""
        await self._c.request("DELETE", f"/recordings/live/{_p(name)}")

    async def list_stored(self) -> builtins.list[dict[str, Any]]:
        return list(await self._c.request("GET", "/recordings/stored"))

    async def get_stored(self, name: str) -> dict[str, Any]:
        return dict(await self._c.request("GET", f"/recordings/stored/{_p(name)}"))

    async def get_stored_file(self, name: str, timeout: float | None = None) -> bytes:
        """The stored recording's file (a WAV for format wav); ``timeout`` for long ones."""
        return await self._c.request_bytes(
            "GET", f"/recordings/stored/{_p(name)}/file", timeout=timeout
        )

    async def delete_stored(self, name: str) -> None:
        await self._c.request("DELETE", f"/recordings/stored/{_p(name)}")


class Asterisk(_Resource):
    async def ping(self, timeout: float | None = None, control: bool = False) -> dict[str, Any]:
        data = await self._c.request("GET", "/asterisk/ping", timeout=timeout, control=control)
        return dict(data)

    async def info(self) -> dict[str, Any]:
        return dict(await self._c.request("GET", "/asterisk/info"))


class Endpoints(_Resource):
    async def list(self, technology: str | None = None) -> builtins.list[Endpoint]:
        path = "/endpoints" if technology is None else f"/endpoints/{_p(technology)}"
        return [Endpoint.from_json(e) for e in await self._c.request("GET", path)]

    async def get(self, technology: str, resource: str) -> Endpoint:
        data = await self._c.request("GET", f"/endpoints/{_p(technology)}/{_p(resource)}")
        return Endpoint.from_json(data)


class Applications(_Resource):
    async def subscribe(self, app: str, event_source: str) -> None:
        """Have ``app`` hear about ``event_source`` (e.g. ``endpoint:PJSIP``)."""
        await self._c.request(
            "POST", f"/applications/{_p(app)}/subscription", params={"eventSource": event_source}
        )
