"""A lead listening in on a call in progress (the ``listen`` control): the pure part.

The wallboard asks the node that runs the call (a ``call_controls`` row, action
``listen``, args ``endpoint`` and ``lead``). The lead's phone is rung; once they answer,
a snoop channel spying on the caller's channel in both directions (so the caller and
the agent are heard; nothing is whispered) is made, and when it enters our application
it is bridged with the lead's leg in a bridge of its own:

    ringing ──lead answers──▶ snooping ──snoop's StasisStart──▶ bridging ──▶ listening
       │ rings out, busy, cannot dial     │ snoop refused           │ bridge refused
       └───────────────▶ ended: lead's leg and snoop hung up, bridge destroyed ◀──┘

Listening ends when the lead hangs up, when the snoop goes (its call ended) or when the
call closes. Nothing here touches the caller's channel, the agent's leg or the call's
bridge, so whatever fails, the conversation goes on: the request is answered
``failed: <reason>`` and the call's log (its record's ``legs``) says what happened. The
lead's leg and the snoop are legs of the call (``<call>~l1``, ``<call>~s1``): they never
start a call of their own, so they make no call record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.service import ServiceContext

T_LISTEN_RING = "queue.listen_ring"
LISTEN_RING_SECONDS = 30
# Causes of an unanswered lead's leg, said in words on the request.
_UNANSWERED = {17: "is busy", 21: "refused the call"}
LISTEN_COMMANDS = frozenset({"DialListener", "Snoop", "BridgeListener"})


class Holder(Protocol):
    """Where the listening's state is kept: the queue's snapshot (``QueueState``)."""

    listen: dict[str, Any] | None
    leg_seq: int


@dataclass
class ListenState:
    control: int
    lead: str
    endpoint: str
    leg: str
    snoop: str
    bridge: str
    phase: str = "ringing"  # ringing | snooping | bridging | listening
    answered: bool = False  # the control request has its answer


Log = Callable[..., None]  # (ctx, event, **extra): the call's own log


class ListenIn:
    def __init__(self, log: Log) -> None:
        self._log = log

    # -- starting ---------------------------------------------------------------------

    def start(
        self, ctx: ServiceContext, h: Holder, event: inp.ControlRequested, agent: str | None
    ) -> None:
        """Ring the lead's phone; ``agent`` is the staff number of the agent on the call."""
        endpoint = event.args.get("endpoint", "").strip()
        lead = event.args.get("lead", event.requested_by)
        if h.listen is not None:
            ctx.emit(
                cmd.ControlDone(
                    event.control_id, False, f"failed: {h.listen['lead']} is already listening"
                )
            )
            return
        if not endpoint:
            ctx.emit(cmd.ControlDone(event.control_id, False, "failed: the lead has no phone"))
            return
        h.leg_seq += 1
        n, call = h.leg_seq, ctx.channel_id
        state = ListenState(
            control=event.control_id,
            lead=lead,
            endpoint=endpoint,
            leg=f"{call}~l{n}",
            snoop=f"{call}~s{n}",
            bridge=f"{call}~lb{n}",
        )
        h.listen = asdict(state)
        self._log(ctx, "listen", lead=lead, agent=agent)
        label = f"Listen {agent}" if agent else "Listen"
        ctx.emit(
            cmd.DialListener(
                state.leg,
                endpoint,
                # Asterisk's own limit is a backstop; our timer decides the ring time.
                timeout=LISTEN_RING_SECONDS + 10,
                caller_id=f'"{label}" <{agent or ctx.caller_number}>',
            )
        )
        ctx.start_timer(T_LISTEN_RING, LISTEN_RING_SECONDS)

    # -- what happens to the legs -------------------------------------------------------

    def owns(self, h: Holder, leg_id: str) -> bool:
        s = h.listen
        return s is not None and leg_id in (s["leg"], s["snoop"])

    def leg_answered(self, ctx: ServiceContext, h: Holder, leg_id: str) -> None:
        s = h.listen
        if s is None:
            return
        if leg_id == s["leg"] and s["phase"] == "ringing":
            ctx.cancel_timer(T_LISTEN_RING)
            s["phase"] = "snooping"
            ctx.emit(cmd.Snoop(s["snoop"], spy="both"))
        elif leg_id == s["snoop"] and s["phase"] == "snooping":
            s["phase"] = "bridging"
            ctx.emit(cmd.BridgeListener(s["bridge"], (s["snoop"], s["leg"])))

    def leg_ended(self, ctx: ServiceContext, h: Holder, event: inp.LegEnded) -> None:
        s = h.listen
        if s is None:
            return
        if event.leg_id == s["leg"]:
            if s["phase"] == "ringing":
                how = _UNANSWERED.get(event.cause or 0, "did not answer")
                self._fail(ctx, h, f"the lead's phone {how}", lead_gone=True)
            else:
                self._end(ctx, h, "the lead hung up", lead_gone=True)
        elif event.leg_id == s["snoop"]:
            # A snoop goes by itself when the channel it spies on goes: the call is ending.
            self._end(ctx, h, "the call ended", snoop_gone=True)

    def bridged(self, ctx: ServiceContext, h: Holder, event: inp.ListenerBridged) -> None:
        s = h.listen
        if s is None or event.bridge_id != s["bridge"] or s["phase"] != "bridging":
            return
        s["phase"] = "listening"
        self._answer(ctx, s, True, f"{s['lead']} is listening")
        self._log(ctx, "listening", lead=s["lead"])

    def timer(self, ctx: ServiceContext, h: Holder, name: str) -> bool:
        if name != T_LISTEN_RING:
            return False
        s = h.listen
        if s is not None and s["phase"] == "ringing":
            self._fail(ctx, h, f"the lead's phone did not answer in {LISTEN_RING_SECONDS} s")
        return True

    def command_failed(self, ctx: ServiceContext, h: Holder, event: inp.CommandFailed) -> bool:
        """True when the failed command was the listening's (handled: the call goes on)."""
        if event.command not in LISTEN_COMMANDS:
            return False
        if h.listen is not None:
            what = {
                "DialListener": "cannot ring the lead's phone",
                "Snoop": "cannot listen to this call",
                "BridgeListener": "cannot connect the lead",
            }[event.command]
            self._fail(ctx, h, f"{what} ({event.reason})")
        return True

    # -- ending -----------------------------------------------------------------------------

    def stop(self, ctx: ServiceContext, h: Holder, reason: str) -> None:
        """The call is closing (or was resumed after a restart): let go of everything."""
        if h.listen is not None:
            self._end(ctx, h, reason)

    def _fail(self, ctx: ServiceContext, h: Holder, reason: str, lead_gone: bool = False) -> None:
        s = h.listen
        assert s is not None
        self._log(ctx, "listen_failed", lead=s["lead"], reason=reason)
        self._answer(ctx, s, False, f"failed: {reason}")
        self._release(ctx, h, lead_gone=lead_gone)

    def _end(
        self,
        ctx: ServiceContext,
        h: Holder,
        reason: str,
        *,
        lead_gone: bool = False,
        snoop_gone: bool = False,
    ) -> None:
        s = h.listen
        assert s is not None
        if not s["answered"]:
            self._fail(ctx, h, reason, lead_gone=lead_gone)
            return
        self._log(ctx, "listen_ended", lead=s["lead"], reason=reason)
        self._release(ctx, h, lead_gone=lead_gone, snoop_gone=snoop_gone)

    def _answer(self, ctx: ServiceContext, s: dict[str, Any], ok: bool, result: str) -> None:
        if not s["answered"]:
            s["answered"] = True
            ctx.emit(cmd.ControlDone(s["control"], ok, result))

    def _release(
        self, ctx: ServiceContext, h: Holder, *, lead_gone: bool = False, snoop_gone: bool = False
    ) -> None:
        s = h.listen
        assert s is not None
        ctx.cancel_timer(T_LISTEN_RING)
        if not lead_gone:
            ctx.emit(cmd.HangupLeg(s["leg"]))
        if s["phase"] != "ringing":
            if not snoop_gone:
                ctx.emit(cmd.HangupLeg(s["snoop"]))
            ctx.emit(cmd.DestroyBridge(s["bridge"]))
        h.listen = None
