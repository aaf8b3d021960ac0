"""Agents' phones as each node's Asterisk sees them, and fencing of controller nodes: a
node's generation, carried by every agent claim it makes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_phones",
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("reachable", sa.Boolean, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.String(256)),
        sa.Column("changed_at", TS, nullable=False),
    )
    with op.batch_alter_table("controller_nodes") as batch:
        batch.add_column(sa.Column("generation", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("seat_states") as batch:
        batch.add_column(sa.Column("claim_generation", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("seat_states") as batch:
        batch.drop_column("claim_generation")
    with op.batch_alter_table("controller_nodes") as batch:
        batch.drop_column("generation")
    op.drop_table("agent_phones")
