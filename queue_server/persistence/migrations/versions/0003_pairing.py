"""device pairing: pairing requests and failed attempts

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pairing_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requester", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing_requests")),
    )
    op.create_index(
        "ix_pairing_requests_code_status", "pairing_requests", ["code", "status"], unique=False
    )
    op.create_index(
        "ix_pairing_requests_requester_created",
        "pairing_requests",
        ["requester", "created_at"],
        unique=False,
    )
    op.create_table(
        "pairing_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing_failures")),
    )
    op.create_index(
        "ix_pairing_failures_actor_at", "pairing_failures", ["actor", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pairing_failures_actor_at", table_name="pairing_failures")
    op.drop_table("pairing_failures")
    op.drop_index("ix_pairing_requests_requester_created", table_name="pairing_requests")
    op.drop_index("ix_pairing_requests_code_status", table_name="pairing_requests")
    op.drop_table("pairing_requests")
