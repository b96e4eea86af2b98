"""printing: print jobs and printer status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("printer_id", sa.String(length=32), nullable=False),
        sa.Column("document", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column("lab_report_id", _ID, nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error_code", sa.String(length=48), nullable=True),
        sa.Column("error_detail", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        _moment("lease_until"),
        _moment("sent_at"),
        _moment("not_before"),
        _moment("created_at", nullable=False),
        _moment("updated_at", nullable=False),
        _moment("printed_at"),
        sa.Column("reprint_of", _ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_print_jobs_printer_status", ["printer_id", "status"], unique=False
        )
        batch_op.create_index("ix_print_jobs_ticket", ["ticket_id"], unique=False)

    op.create_table(
        "printer_status",
        sa.Column("printer_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("ready", sa.Boolean(), nullable=False),
        _moment("since"),
        _moment("checked_at"),
        sa.Column("last_job_id", _ID, nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        _moment("lease_until"),
        sa.PrimaryKeyConstraint("printer_id", name=op.f("pk_printer_status")),
    )


def downgrade() -> None:
    op.drop_table("printer_status")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_print_jobs_ticket")
        batch_op.drop_index("ix_print_jobs_printer_status")
    op.drop_table("print_jobs")
