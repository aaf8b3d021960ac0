"""Endpoints (``GET /endpoints…``, ``endpoints.json``) and applications' subscriptions to
event sources (``POST``/``DELETE /applications/{app}/subscription``), the way Asterisk 22's
``res/ari/resource_endpoints.c``, ``res/ari/resource_applications.c`` and
``res/stasis/stasis.c`` do them.

An endpoint is ``tech/resource``, the endpoint a dial string reaches: ``PJSIP/8001``;
``PJSIP/555@trunk`` and ``PJSIP/trunk/sip:…`` reach ``PJSIP/trunk``. The simulator knows
every endpoint given a phone (``set_phone`` / ``register_phone``) and every PJSIP endpoint
that has carried a channel (callers come in on ``PJSIP/caller``); ``Local/…`` is never an
endpoint (Asterisk lists no Local endpoints). An endpoint is ``online`` unless its phone is
set unregistered (``offline``); its ``channel_ids`` are the live channels on it.
Originating to an unregistered PJSIP endpoint answers 500 and creates no channel: chan_pjsip
cannot create the dialog (observed on Asterisk 22.10.1, ari-notes.md). A change of
registration sends ``EndpointStateChange`` to every app subscribed to
``endpoint:<tech>/<resource>`` or to the whole technology, ``endpoint:<tech>``.

A subscription request is checked in Asterisk's order: ``eventSource`` given (400), the app
registered (404), then each source in turn, its scheme (400) and whether it exists (422; on
DELETE: whether the app is subscribed to it, 422), each applied before the next is looked
at — the sources before a failing one stay (un)subscribed, as in stasis.c. ``channel:`` and
``bridge:`` add the app to that channel's or bridge's subscribers (a channel subscription
goes at ``StasisEnd``, as Asterisk's ``check_for_stasis_end`` drops it); ``deviceState:`` is
not simulated (501).
"""

from __future__ import annotations

from typing import Any

from simulator.model import EngineCore, SimBridge, SimChannel, SimError

SCHEMES = ("channel", "bridge", "endpoint", "deviceState")


def endpoint_id(dial: str) -> str:
    """The endpoint (``tech/resource``) a dial string such as ``PJSIP/555@trunk`` reaches."""
    tech, _, rest = dial.partition("/")
    if is_pjsip(tech):
        # PJSIP/endpoint, PJSIP/user@endpoint, PJSIP/endpoint/sip:uri (chan_pjsip.c)
        rest = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{tech}/{rest}"


def is_pjsip(tech: str) -> bool:
    return tech.upper() == "PJSIP"


def is_local(endpoint: str) -> bool:
    return endpoint.partition("/")[0].lower() == "local"


def unreachable_error(eid: str) -> SimError:
    return SimError(
        500, f"Could not create dialog to endpoint '{eid}'. Is endpoint registered and reachable?"
    )


# -- the endpoints ------------------------------------------------------------------------


def known(engine: EngineCore) -> list[str]:
    """Every endpoint the simulator lists, sorted."""
    return sorted(engine.pjsip_endpoints_seen | set(engine.registered))


def technologies(engine: EngineCore) -> set[str]:
    """Technologies with endpoints (PJSIP always: it is the one the hotline is set up with)."""
    return {"PJSIP"} | {eid.partition("/")[0] for eid in known(engine)}


def state(engine: EngineCore, eid: str) -> str:
    return "online" if engine.registered.get(eid, True) else "offline"


def _channels_by_endpoint(engine: EngineCore) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ch in engine.channels.values():
        if ch.endpoint:
            found.setdefault(endpoint_id(ch.endpoint), []).append(ch.id)
    return found


def _to_json(engine: EngineCore, eid: str, channels: dict[str, list[str]]) -> dict[str, Any]:
    tech, _, resource = eid.partition("/")
    return {
        "technology": tech,
        "resource": resource,
        "state": state(engine, eid),
        "channel_ids": list(channels.get(eid, [])),
    }


def list_endpoints(engine: EngineCore, tech: str | None = None) -> list[dict[str, Any]]:
    """``GET /endpoints`` (every technology) or ``GET /endpoints/{tech}``."""
    if tech is not None and tech not in technologies(engine) and tech.lower() != "local":
        # An unknown channel technology; Local is known and simply has no endpoints.
        raise SimError(404, "Endpoints not found")
    channels = _channels_by_endpoint(engine)
    return [
        _to_json(engine, eid, channels)
        for eid in known(engine)
        if tech is None or eid.partition("/")[0] == tech
    ]


def get_endpoint(engine: EngineCore, tech: str, resource: str) -> dict[str, Any]:
    eid = f"{tech}/{resource}"
    if eid not in known(engine):
        raise SimError(404, "Endpoint not found")
    return _to_json(engine, eid, _channels_by_endpoint(engine))


def carried(engine: EngineCore, dial: str) -> None:
    """A channel was created on ``dial``: a PJSIP endpoint is known from now on."""
    eid = endpoint_id(dial)
    if is_pjsip(eid.partition("/")[0]):
        engine.pjsip_endpoints_seen.add(eid)


def check_reachable(engine: EngineCore, dial: str) -> None:
    """Raise Asterisk's 500 for a dial string reaching an unregistered PJSIP endpoint."""
    eid = endpoint_id(dial)
    if is_pjsip(eid.partition("/")[0]) and not engine.registered.get(eid, True):
        raise unreachable_error(eid)


def set_registered(engine: EngineCore, dial: str, registered: bool) -> None:
    """Register (or unregister) the phone of the endpoint ``dial`` reaches; a change of
    state goes as ``EndpointStateChange`` to the apps subscribed to it."""
    eid = endpoint_id(dial)
    if is_local(eid):
        return  # a Local channel is no endpoint: nothing registers
    before = state(engine, eid)
    engine.registered[eid] = registered
    if state(engine, eid) != before:
        tech = eid.partition("/")[0]
        apps = {
            app
            for app, sources in engine.endpoint_subscriptions.items()
            if eid in sources or tech in sources
        }
        engine.emit(
            "EndpointStateChange",
            apps,
            endpoint=_to_json(engine, eid, _channels_by_endpoint(engine)),
        )


# -- subscriptions ----------------------------------------------------------------------------


def _parse(source: str) -> tuple[str, str]:
    scheme, colon, ident = source.partition(":")
    if not colon or scheme not in SCHEMES:
        raise SimError(400, "Invalid event source URI scheme")
    if scheme == "deviceState":
        raise SimError(501, "deviceState event sources are not simulated")
    return scheme, ident


def _check_app(engine: EngineCore, app: str, sources: list[str]) -> None:
    if not sources:
        raise SimError(400, "Missing parameter eventSource")
    if app not in engine.apps:
        raise SimError(404, "Application not found")


def _holder(engine: EngineCore, scheme: str, ident: str) -> SimChannel | SimBridge | None:
    return engine.channels.get(ident) if scheme == "channel" else engine.bridges.get(ident)


def subscribe(engine: EngineCore, app: str, sources: list[str]) -> None:
    """``POST /applications/{app}/subscription?eventSource=…`` (comma-separated)."""
    _check_app(engine, app, sources)
    for source in sources:
        scheme, ident = _parse(source)
        missing = SimError(422, "Event source does not exist")
        if scheme == "endpoint":
            exists = ident in known(engine) if "/" in ident else ident in technologies(engine)
            if not exists:
                raise missing
            engine.endpoint_subscriptions.setdefault(app, set()).add(ident)
        else:
            holder = _holder(engine, scheme, ident)
            if holder is None:
                raise missing
            holder.subscribed.add(app)


def unsubscribe(engine: EngineCore, app: str, sources: list[str]) -> None:
    """``DELETE /applications/{app}/subscription?eventSource=…``."""
    _check_app(engine, app, sources)
    for source in sources:
        scheme, ident = _parse(source)
        not_subscribed = SimError(422, "Event source was not subscribed to")
        if scheme == "endpoint":
            subscribed = engine.endpoint_subscriptions.get(app, set())
            if ident not in subscribed:
                raise not_subscribed
            subscribed.discard(ident)
        else:
            holder = _holder(engine, scheme, ident)
            if holder is None or app not in holder.subscribed:
                raise not_subscribed
            holder.subscribed.discard(app)


def subscribed_endpoints(engine: EngineCore, app: str) -> list[str]:
    """The Application model's ``endpoint_ids``: ``tech/resource``, or ``tech`` for all."""
    return sorted(engine.endpoint_subscriptions.get(app, set()))
