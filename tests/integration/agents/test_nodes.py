"""Controller nodes on both back ends: generations and heartbeats (a buried node is fenced
off), telling live from dead, and cleaning up after a dead node (what may still be live on
its Asterisk kept, the rest released)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import nodes, offers
from agents import queue_store as entries
from agents.seat_store import add_agent, get_seat, history, set_state
from ticketdb.models import CallControl, ControllerNode, QueueEntry

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DEAD = "node-a"
ALIVE = "node-b"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def node_row(s: Session, name: str) -> ControllerNode | None:
    return s.get(ControllerNode, name, populate_existing=True)


def test_join_then_heartbeat_as_that_generation(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        first = nodes.join(s, DEAD, T0)
        assert nodes.heartbeat(s, DEAD, first, at(3))
        row = node_row(s, DEAD)
        assert row is not None
        assert (row.started_at, row.heartbeat_at, row.generation) == (T0, at(3), first)
        assert len(s.scalars(select(ControllerNode)).all()) == 1
        # A restart is a new generation: the old one's heartbeat is refused.
        second = nodes.join(s, DEAD, at(4))
        assert second == first + 1
        assert not nodes.heartbeat(s, DEAD, first, at(5))
        assert nodes.heartbeat(s, DEAD, second, at(5))


def test_a_buried_node_is_fenced_and_rejoins_above_its_claims(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        gen = nodes.join(s, DEAD, T0)
        a = agent(s, "8001")
        assert offers.ring(s, agent_id=a, node=DEAD, channel_id="c1", now=at(1), generation=gen)
        nodes.bury(s, DEAD, at(30))
        # It stalled and comes back: its heartbeat is refused, so it knows.
        assert not nodes.heartbeat(s, DEAD, gen, at(31))
        again = nodes.join(s, DEAD, at(31))
        # The burial deleted its row, yet the new generation is above the one its claims carry.
        assert again > gen
        assert nodes.heartbeat(s, DEAD, again, at(32))


def test_live_and_dead_nodes_by_their_last_heartbeat(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        nodes.join(s, "n1", at(0))
        nodes.join(s, "n3", at(4))
        nodes.join(s, "n2", at(9))
        assert nodes.live_nodes(s, at(10), dead_after=5) == {"n2"}
        assert nodes.dead_nodes(s, at(10), dead_after=5) == ["n1", "n3"]
        # Exactly at the limit a node still counts as alive.
        assert nodes.live_nodes(s, at(9), dead_after=5) == {"n3", "n2"}
        assert nodes.dead_nodes(s, at(9), dead_after=5) == ["n1"]


def agent(s: Session, staff: str) -> int:
    a = add_agent(s, staff_number=staff, name=f"Agent {staff}", endpoint=f"PJSIP/{staff}").id
    set_state(s, agent_id=a, to_state="available", by=staff, now=T0)
    return a


def enqueue(s: Session, node: str, channel_id: str) -> int:
    return entries.enqueue(
        s,
        node=node,
        channel_id=channel_id,
        queue="operator",
        tier="general",
        arrived_at=T0,
        now=T0,
        caller_number="+8613800000001",
    ).entry_id


def status_of(s: Session) -> dict[str, tuple[str, str | None, int | None]]:
    rows = s.scalars(select(QueueEntry).execution_options(populate_existing=True)).all()
    return {f"{r.node}/{r.channel_id}": (r.status, r.dialing_node, r.agent_id) for r in rows}


def test_bury_keeps_what_may_be_live_on_its_asterisk_and_releases_the_rest(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        nodes.join(s, DEAD, T0)
        nodes.join(s, ALIVE, T0)
        ringing = agent(s, "8001")
        talking = agent(s, "8002")
        wrapping = agent(s, "8003")
        elsewhere = agent(s, "8004")
        dialler = agent(s, "8005")
        assert offers.ring(s, agent_id=ringing, node=DEAD, channel_id="c1", now=at(1))
        for a, channel in ((talking, "c2"), (wrapping, "c3")):
            assert offers.ring(s, agent_id=a, node=DEAD, channel_id=channel, now=at(1))
            offers.answered(s, agent_id=a, node=DEAD, now=at(2))
        offers.call_ended(s, agent_id=wrapping, node=DEAD, now=at(3), wrap_up_seconds=600)
        assert offers.ring(s, agent_id=elsewhere, node=ALIVE, channel_id="b1", now=at(1))

        enqueue(s, DEAD, "waiting")
        enqueue(s, DEAD, "c1")
        entries.mark(s, node=DEAD, channel_id="c1", status="offered", now=at(1), agent_id=ringing)
        enqueue(s, DEAD, "c2")
        entries.mark(s, node=DEAD, channel_id="c2", status="connected", now=at(2), agent_id=talking)
        enqueue(s, DEAD, "booked")
        entries.book_callback(
            s,
            node=DEAD,
            channel_id="booked",
            number="+8613800000002",
            language="zh",
            now=at(4),
            queue="operator",
        )
        # A callback booked on the live node that the dead one was dialling.
        dialling = enqueue(s, ALIVE, "cb")
        entries.book_callback(
            s,
            node=ALIVE,
            channel_id="cb",
            number="+8613800000003",
            language="zh",
            now=at(4),
            queue="operator",
        )
        assert entries.start_callback(s, entry_id=dialling, agent_id=dialler, node=DEAD, now=at(5))
        enqueue(s, ALIVE, "b1")

        assert sorted(nodes.held_by(s, DEAD)) == [(ringing, "ringing"), (talking, "on_call")]
        # Only the wrap-up claim goes: its call is over.
        assert nodes.bury(s, DEAD, at(30)) == 1
    with sessions() as s:
        # A ringing phone or a conversation may go on on the dead node's Asterisk (it may
        # only have stalled): those seats stay its own, so no other node rings them.
        for a, state, channel in ((ringing, "ringing", "c1"), (talking, "on_call", "c2")):
            seat = get_seat(s, a)
            assert (seat.state, seat.claimed_by_node, seat.claim_channel) == (
                state,
                DEAD,
                channel,
            )
        seat = get_seat(s, wrapping)
        assert (seat.state, seat.claimed_by_node) == ("available", None)
        last = history(s, wrapping)[-1]
        assert (last.to_state, last.by) == ("available", "system")
        # The live node's agent is untouched.
        seat = get_seat(s, elsewhere)
        assert (seat.state, seat.claimed_by_node) == ("ringing", ALIVE)
        # Its waiting caller leaves the queue; the calls it carries and the callback it
        # was dialling stay its own.
        assert status_of(s) == {
            f"{DEAD}/c1": ("offered", None, ringing),
            f"{DEAD}/c2": ("connected", None, talking),
            f"{DEAD}/booked": ("callback", None, None),
            f"{ALIVE}/cb": ("dialing", DEAD, dialler),
            f"{ALIVE}/b1": ("waiting", None, None),
        }
        assert node_row(s, DEAD) is None
        assert node_row(s, ALIVE) is not None
        # The callback booked on the dead node is due for any live node.
        due = entries.queued(s, live_nodes={ALIVE}, now=at(31))
        assert sorted(e.channel_id for e in due) == ["b1", "booked"]
        # Idempotent: burying again (another live node got there too) changes nothing.
        assert nodes.bury(s, DEAD, at(31)) == 0
        assert len(status_of(s)) == 5


def test_bury_of_a_node_without_anything_is_harmless(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert nodes.bury(s, "never-seen", T0) == 0


def test_bury_fails_the_dead_nodes_unanswered_controls(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for node, status in ((DEAD, "pending"), (DEAD, "taken"), (DEAD, "done"), (ALIVE, "taken")):
            s.add(
                CallControl(
                    node=node,
                    channel_id="c1",
                    action="hold",
                    args={},
                    requested_by="8001",
                    requested_at=T0,
                    status=status,
                )
            )
        s.commit()
        nodes.bury(s, DEAD, at(20))
        rows = s.scalars(
            select(CallControl).order_by(CallControl.id).execution_options(populate_existing=True)
        ).all()
        assert [(r.node, r.status) for r in rows] == [
            (DEAD, "failed"),
            (DEAD, "failed"),
            (DEAD, "done"),
            (ALIVE, "taken"),
        ]
        assert rows[0].result == f"node {DEAD} is gone"
