"""The web page (issue #6): each user's UI language, login attempts for throttling, API
tokens for the CRM integration under /api/v1, and an index for a caller's past calls.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_calls_caller_number", "calls", ["caller_number"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("ui_language", sa.String(8), nullable=False, server_default="en")
        )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_number", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempts_staff_number_at", "login_attempts", ["staff_number", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        # sha256 of the token: a stolen database does not give working tokens.
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_login_attempts_address_at", "login_attempts")
    op.drop_index("ix_login_attempts_staff_number_at", "login_attempts")
    op.drop_table("login_attempts")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("ui_language")
    op.drop_index("ix_calls_caller_number", "calls")
