"""Call records.

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in ticketdb.base: a migration must not change when the
# application code does.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("dialled_number", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("customer_tier", sa.String(length=16), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("hangup_cause_text", sa.String(length=128), nullable=True),
        sa.Column("hangup_side", sa.String(length=16), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("menu_path", JSON, nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("recording_path", sa.String(length=512), nullable=True),
        sa.Column("state", JSON, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("node", "channel_id", name=op.f("uq_calls_node_channel_id")),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_node_ended_at", "calls", ["node", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_node_ended_at", table_name="calls")
    op.drop_index("ix_calls_started_at", table_name="calls")
    op.drop_table("calls")
