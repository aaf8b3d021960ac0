"""Agents, their skills, seat states and the history of seat-state changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in ticketdb.base (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("away_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("staff_number", name=op.f("uq_agents_staff_number")),
        sa.CheckConstraint("role IN ('agent', 'lead', 'admin')", name=op.f("ck_agents_role")),
    )

    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "skill", name=op.f("pk_agent_skills")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_skills_agent_id_agents")
        ),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_agent_skills_level")),
    )

    op.create_table(
        "seat_states",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", TS, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("wrap_up_until", TS, nullable=True),
        sa.Column("claimed_by_node", sa.String(length=64), nullable=True),
        sa.Column("claim_channel", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_seat_states")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_seat_states_agent_id_agents")
        ),
        sa.CheckConstraint(
            "state IN ('offline', 'available', 'ringing', 'on_call', 'wrap_up', 'away',"
            " 'on_leave')",
            name=op.f("ck_seat_states_state"),
        ),
    )

    op.create_table(
        "seat_state_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_state_changes")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_seat_state_changes_agent_id_agents")
        ),
    )
    # A seat's history in time order (the lead's view, reports).
    op.create_index("ix_seat_state_changes_agent_id_at", "seat_state_changes", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_seat_state_changes_agent_id_at", table_name="seat_state_changes")
    op.drop_table("seat_state_changes")
    op.drop_table("seat_states")
    op.drop_table("agent_skills")
    op.drop_table("agents")
