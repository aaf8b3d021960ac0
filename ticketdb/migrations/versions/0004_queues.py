"""The queue engine: the global queue, controller nodes, callback attempts, call legs,
lead alerts, handover notes and agent logins.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in ticketdb.base (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_entries",
        # The id is the global arrival sequence: it breaks ties of equal arrival times.
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("injury", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=True),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("entered_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("not_before", TS, nullable=True),
        sa.Column("dialing_node", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
        sa.UniqueConstraint("node", "channel_id", name=op.f("uq_queue_entries_node_channel_id")),
    )
    op.create_index("ix_queue_entries_status", "queue_entries", ["status", "queue"])

    op.create_table(
        "controller_nodes",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_controller_nodes")),
    )

    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_attempt_at", TS, nullable=True))
        batch.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("completed_at", TS, nullable=True))
        batch.add_column(sa.Column("history", JSON, nullable=False, server_default="[]"))

    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("legs", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("queue_entered_at", TS, nullable=True))
        batch.add_column(sa.Column("agent_answered_at", TS, nullable=True))
        batch.add_column(sa.Column("callback_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=256), nullable=True))
        batch.add_column(
            sa.Column("missed_in_row", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("acting_lead", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "lead_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("cleared_at", TS, nullable=True),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_alerts")),
    )
    op.create_index("ix_lead_alerts_cleared_at", "lead_alerts", ["cleared_at", "raised_at"])

    op.create_table(
        "handover_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("shift_ending", sa.String(length=64), nullable=True),
        sa.Column("shift_starting", sa.String(length=64), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_notes")),
        sa.UniqueConstraint("team", "at", "author", name=op.f("uq_handover_notes_team_at_author")),
    )

    op.create_table(
        "call_controls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_controls")),
    )
    op.create_index("ix_call_controls_node_status", "call_controls", ["node", "status"])


def downgrade() -> None:
    op.drop_index("ix_call_controls_node_status", table_name="call_controls")
    op.drop_table("call_controls")
    op.drop_table("handover_notes")
    op.drop_index("ix_lead_alerts_cleared_at", table_name="lead_alerts")
    op.drop_table("lead_alerts")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("acting_lead")
        batch.drop_column("missed_in_row")
        batch.drop_column("password_hash")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("callback_id")
        batch.drop_column("agent_answered_at")
        batch.drop_column("queue_entered_at")
        batch.drop_column("legs")
    with op.batch_alter_table("callback_requests") as batch:
        for name in (
            "history",
            "completed_at",
            "outcome",
            "agent_id",
            "last_attempt_at",
            "attempts",
            "queue",
        ):
            batch.drop_column(name)
    op.drop_table("controller_nodes")
    op.drop_index("ix_queue_entries_status", table_name="queue_entries")
    op.drop_table("queue_entries")
