"""lab-report self-print: reports, results, attempts, audit (append-only), webhook outbox

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lab_reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("specimen_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("panel_code", sa.String(32), nullable=True),
        sa.Column("panel_name", sa.String(128), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("patient_masked", sa.String(64), nullable=True),
        sa.Column("patient_id_hash", sa.String(64), nullable=True),
        sa.Column("birth_hash", sa.String(64), nullable=True),
        sa.Column("phone4_hash", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("token_hint", sa.String(8), nullable=True),
        sa.Column("token_issued_at", MOMENT, nullable=True),
        sa.Column("collected_at", MOMENT, nullable=True),
        sa.Column("expected_ready_at", MOMENT, nullable=True),
        sa.Column("reported_at", MOMENT, nullable=True),
        sa.Column("print_count", sa.Integer(), nullable=False),
        sa.Column("last_printed_at", MOMENT, nullable=True),
        sa.Column("last_print_kiosk", sa.String(32), nullable=True),
        sa.Column("last_print_job_id", ID, nullable=True),
        sa.Column("ready_notified_at", MOMENT, nullable=True),
        sa.Column("last_message_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_reports")),
        sa.UniqueConstraint("specimen_id", name=op.f("uq_lab_reports_specimen_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_lab_reports_token_hash")),
    )
    op.create_index("ix_lab_reports_order_id", "lab_reports", ["order_id"])
    op.create_table(
        "lab_results",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("report_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("reference_range", sa.String(64), nullable=False),
        sa.Column("flag", sa.String(4), nullable=False),
        sa.Column("status", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["lab_reports.id"],
            name=op.f("fk_lab_results_report_id_lab_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_results")),
        sa.UniqueConstraint("report_id", "seq", name="uq_lab_results_report_seq"),
    )
    op.create_table(
        "lab_attempts",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", MOMENT, nullable=False),
        sa.Column("locked_until", MOMENT, nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_lab_attempts")),
    )
    op.create_table(
        "lab_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("report_id", ID, nullable=True),
        sa.Column("kiosk_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_audit")),
    )
    op.create_index("ix_lab_audit_report", "lab_audit", ["report_id"])
    op.create_table(
        "lab_outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("report_id", ID, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("next_attempt_at", MOMENT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", MOMENT, nullable=True),
        sa.Column("gave_up_at", MOMENT, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_outbox")),
    )
    op.create_index("ix_lab_outbox_due", "lab_outbox", ["delivered_at", "next_attempt_at"])
    _append_only_audit()


def _append_only_audit() -> None:
    """The lab audit log is evidence: the database itself refuses UPDATE and DELETE on it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION lab_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'lab_audit is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER lab_audit_no_change BEFORE UPDATE OR DELETE ON lab_audit "
            "FOR EACH ROW EXECUTE FUNCTION lab_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER lab_audit_no_{verb.lower()} BEFORE {verb} ON lab_audit "
                "BEGIN SELECT RAISE(ABORT, 'lab_audit is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS lab_audit_no_change ON lab_audit")
        op.execute("DROP FUNCTION IF EXISTS lab_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS lab_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS lab_audit_no_delete")
    op.drop_index("ix_lab_outbox_due", table_name="lab_outbox")
    op.drop_table("lab_outbox")
    op.drop_index("ix_lab_audit_report", table_name="lab_audit")
    op.drop_table("lab_audit")
    op.drop_table("lab_attempts")
    op.drop_table("lab_results")
    op.drop_index("ix_lab_reports_order_id", table_name="lab_reports")
    op.drop_table("lab_reports")
