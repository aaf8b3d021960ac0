"""Collected call data, customers, callback requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in ticketdb.base (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The server default fills existing rows, so NOT NULL holds from the start; both
    # back ends add such a column without rebuilding the table.
    op.add_column("calls", sa.Column("data", JSON, nullable=False, server_default=sa.text("'{}'")))

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("company", sa.String(length=128), nullable=True),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
        sa.CheckConstraint("tier IN ('general', 'member', 'vip')", name=op.f("ck_customers_tier")),
    )

    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint(
            "node",
            "channel_id",
            "source",
            name=op.f("uq_callback_requests_node_channel_id_source"),
        ),
    )
    op.create_index(
        "ix_callback_requests_status_requested_at",
        "callback_requests",
        ["status", "requested_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_callback_requests_status_requested_at", table_name="callback_requests")
    op.drop_table("callback_requests")
    op.drop_table("customers")
    # SQLite can drop a column only by rebuilding the table: batch mode does that.
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("data")
