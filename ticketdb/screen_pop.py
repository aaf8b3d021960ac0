"""The screen pop: who is calling the agent whose phone rings or who is on a call, the
way they came through the menu, and what we already know about them.

The seat's claim (``claimed_by_node``, ``claim_channel``) names the call; its record
(``calls``, keyed by the same pair) holds the caller ID and the menu path. Before the
record is written (the writer batches), the queue entry gives the number. A callback
the queue engine dials has a claim key ``cb<entry id>-…`` instead of a caller's
channel; its entry names the callback request and so the number.

Which ticket form the call needs is ``kind_for`` — pure, so the mapping is tested on
its own. Numbers here are as stored: the web layer masks them for its viewer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from ticketdb.customers import find_by_phone, normalise_phone
from ticketdb.models import Call, CallbackRequest, Customer, QueueEntry, SeatState, Ticket

# The seat states in which the agent has a caller to look at.
POP_STATES = ("ringing", "on_call")
HISTORY_LIMIT = 10
_CALLBACK_KEY = re.compile(r"^cb(\d+)-")

# --- which ticket form a call needs (pure) -------------------------------------------


@dataclass(frozen=True)
class CallKind:
    """The ticket a call most likely needs: kind, complaint category (None: the agent
    picks), and whether the caller said someone was hurt."""

    kind: str
    category: str | None = None
    injury: bool = False


INQUIRY = CallKind("inquiry")

# Words in a queue's or a menu node's name, most specific first. Names are the site's
# own (menus and queues are configuration), so the match is on words they contain:
# "quality" and "service" name the dairy complaint queues, "complain" the telecom one.
_WORDS: tuple[tuple[str, CallKind], ...] = (
    ("injur", CallKind("complaint", "product_quality", injury=True)),
    ("quality", CallKind("complaint", "product_quality")),
    ("service", CallKind("complaint", "service_quality")),
    ("complain", CallKind("complaint")),
    ("order", CallKind("order")),
    ("fault", CallKind("fault")),
    ("repair", CallKind("fault")),
    ("inquir", INQUIRY),
    ("enquir", INQUIRY),
    ("consult", INQUIRY),
)


def _match(name: str) -> CallKind | None:
    lowered = name.lower()
    for word, kind in _WORDS:
        if word in lowered:
            return kind
    return None


def kind_for(
    menu_path: Sequence[Any], queue: str | None = None, *, injury: bool = False
) -> CallKind:
    """The ticket kind for a call that reached ``queue`` by ``menu_path`` (the call
    record's list of menu events, each a dict with ``event`` and ``node``).

    The queue decides when its name says what it is for (``quality`` → a product
    complaint); otherwise the deepest menu node the caller entered that does (the
    operator queue reached from the complaint menu is still a complaint). ``injury``
    (the queue entry's flag) makes it a product-quality complaint with harm. Anything
    else is an inquiry: the form every call can start from.
    """
    found = _match(queue) if queue else None
    if found is None:
        for step in reversed(menu_path):
            if isinstance(step, Mapping) and step.get("event") == "enter":
                found = _match(str(step.get("node", "")))
                if found is not None:
                    break
    found = found or INQUIRY
    if injury:
        return CallKind("complaint", "product_quality", injury=True)
    return found


def menu_nodes(menu_path: Sequence[Any]) -> list[str]:
    """The menu nodes the caller entered, in order (re-entries of the same node once)."""
    nodes: list[str] = []
    for step in menu_path:
        if isinstance(step, Mapping) and step.get("event") == "enter":
            node = str(step.get("node", ""))
            if node and (not nodes or nodes[-1] != node):
                nodes.append(node)
    return nodes


def menu_keys(menu_path: Sequence[Any]) -> str:
    """The keys the caller pressed in the menu, in order."""
    return "".join(
        str(step["key"]) for step in menu_path if isinstance(step, Mapping) and "key" in step
    )


# --- queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PastCall:
    id: int
    started_at: datetime
    queue: str | None
    agent: str | None
    end_reason: str | None
    wait_seconds: float | None


@dataclass(frozen=True)
class PastTicket:
    id: int
    kind: str
    category: str | None
    status: str
    severity: str
    summary: str
    created_at: datetime


@dataclass(frozen=True)
class CallerHistory:
    calls: list[PastCall] = field(default_factory=list)
    tickets: list[PastTicket] = field(default_factory=list)


@dataclass(frozen=True)
class ScreenPop:
    """The caller at one agent's seat now."""

    state: str  # ringing | on_call
    node: str
    channel_id: str
    call_id: int | None  # None until the call's record is written
    number: str  # as stored; the viewer's page masks it
    name: str
    tier: str
    customer_id: int | None
    queue: str | None
    menu_path: list[Any]
    kind: CallKind
    callback_id: int | None  # a callback the engine dialled for this agent

    @property
    def key(self) -> str:
        """Names this call among the agent's pops (stable from ring to hang-up)."""
        return f"{self.node}/{self.channel_id}"


def _variants(number: str) -> list[str]:
    """The stored forms a caller ID may have: as given and normalised."""
    forms = [number]
    try:
        normal = normalise_phone(number)
    except ValueError:
        return forms
    if normal != number:
        forms.append(normal)
    return forms


def caller_history(
    s: Session,
    number: str,
    *,
    customer_id: int | None = None,
    exclude_call_id: int | None = None,
    limit: int = HISTORY_LIMIT,
) -> CallerHistory:
    """The caller's latest calls (by caller ID) and tickets (by contact phone or
    customer), newest first, at most ``limit`` of each. Empty for a withheld number."""
    if not number.strip():
        return CallerHistory()
    forms = _variants(number)
    call_stmt = select(Call).where(Call.caller_number.in_(forms))
    if exclude_call_id is not None:
        call_stmt = call_stmt.where(Call.id != exclude_call_id)
    calls = s.scalars(call_stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit))
    phones = [f for f in forms if f]
    match: ColumnElement[bool] = Ticket.contact_phone.in_(phones)
    if customer_id is not None:
        match = or_(match, Ticket.customer_id == customer_id)
    tickets = s.scalars(
        select(Ticket)
        .where(match)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return CallerHistory(
        calls=[
            PastCall(c.id, c.started_at, c.queue, c.agent, c.end_reason, c.wait_seconds)
            for c in calls
        ],
        tickets=[
            PastTicket(t.id, t.kind, t.category, t.status, t.severity, t.summary, t.created_at)
            for t in tickets
        ],
    )


def _seat(s: Session, agent_id: int) -> SeatState | None:
    return s.scalars(
        select(SeatState)
        .where(SeatState.agent_id == agent_id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _callback_entry(s: Session, channel_id: str) -> QueueEntry | None:
    found = _CALLBACK_KEY.match(channel_id)
    if found is None:
        return None
    return s.get(QueueEntry, int(found.group(1)))


def current_pop(s: Session, agent_id: int) -> ScreenPop | None:
    """The pop for the agent's seat, or None when it has no caller (not ringing or on a
    call, or the claim names no call)."""
    seat = _seat(s, agent_id)
    if seat is None or seat.state not in POP_STATES:
        return None
    node, channel = seat.claimed_by_node, seat.claim_channel
    if node is None or channel is None:
        return None
    call = s.scalars(
        select(Call)
        .where(Call.node == node, Call.channel_id == channel)
        .execution_options(populate_existing=True)
    ).one_or_none()
    entry = s.scalars(
        select(QueueEntry).where(QueueEntry.node == node, QueueEntry.channel_id == channel)
    ).one_or_none() or _callback_entry(s, channel)
    callback_id = (call.callback_id if call is not None else None) or (
        entry.callback_id if entry is not None else None
    )
    number = call.caller_number if call is not None else ""
    if not number and entry is not None:
        number = entry.caller_number
    if not number and callback_id is not None:
        request = s.get(CallbackRequest, callback_id)
        number = request.number if request is not None else ""
    customer: Customer | None = find_by_phone(s, number) if number else None
    menu_path = list(call.menu_path or []) if call is not None else []
    queue = (call.queue if call is not None else None) or (
        entry.queue if entry is not None else None
    )
    tier = (
        customer.tier
        if customer is not None
        else (call.customer_tier if call is not None and call.customer_tier else None)
        or (entry.tier if entry is not None else "general")
    )
    return ScreenPop(
        state=seat.state,
        node=node,
        channel_id=channel,
        call_id=call.id if call is not None else None,
        number=number,
        name=(customer.name if customer is not None else "")
        or (call.caller_name if call is not None else ""),
        tier=tier,
        customer_id=customer.id if customer is not None else None,
        queue=queue,
        menu_path=menu_path,
        kind=kind_for(menu_path, queue, injury=entry is not None and entry.injury),
        callback_id=callback_id,
    )
