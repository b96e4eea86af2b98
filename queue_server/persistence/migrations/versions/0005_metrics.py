"""metrics: wait log, rollups (15-minute buckets, histogram bins, load, coarse levels), ratings

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 09:00:00

Written by hand to match queue_server/persistence/models_metrics.py. No foreign keys to
tickets: the end-of-day reset moves tickets to history, and these rows outlive both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_AGG_KEYS = (
    "grain",
    "cut",
    "scope",
    "period",
    "hour",
    "weekday",
    "service_id",
    "counter_id",
    "staff",
)


def _agg_keys() -> list[sa.Column]:
    """Key columns of the coarse levels (models_metrics._AggKeys)."""
    return [
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("cut", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("counter_id", sa.String(length=32), nullable=False),
        sa.Column("staff", sa.String(length=64), nullable=False),
    ]


def _rollup_sums() -> list[sa.Column]:
    """The counts and sums of metrics_rollup and metrics_rollup_agg."""
    ints = ("arrivals", "called", "served", "no_show", "cancelled", "transferred")
    ints += ("sent_for_tests", "removed", "sl_within", "sl_total", "wait_n")
    cols = [sa.Column(name, sa.Integer(), nullable=False) for name in ints]
    cols += [
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("wait_max", sa.Integer(), nullable=True),
        sa.Column("service_n", sa.Integer(), nullable=False),
        sa.Column("service_sum", sa.Float(), nullable=False),
        sa.Column("service_max", sa.Integer(), nullable=True),
        sa.Column("quoted_n", sa.Integer(), nullable=False),
        sa.Column("quoted_err_sum", sa.Float(), nullable=False),
        sa.Column("quoted_abs_err_sum", sa.Float(), nullable=False),
        sa.Column("rating_n", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
    ]
    return cols


def _hist_columns() -> list[sa.Column]:
    return [
        sa.Column("metric", sa.String(length=1), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "metrics_days",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_metrics_days")),
    )
    op.create_table(
        "metrics_hist",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("counter_id", sa.String(length=32), nullable=False),
        sa.Column("staff", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=1), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "business_day",
            "hour",
            "service_id",
            "counter_id",
            "staff",
            "metric",
            "bin",
            name=op.f("pk_metrics_hist"),
        ),
    )
    op.create_index(
        "ix_metrics_hist_day_service", "metrics_hist", ["business_day", "service_id"], unique=False
    )
    op.create_index(
        "ix_metrics_hist_counter_day", "metrics_hist", ["counter_id", "business_day"], unique=False
    )
    for table, columns, extra_keys in (
        ("metrics_rollup_agg", _rollup_sums(), ()),
        ("metrics_hist_agg", _hist_columns(), ("metric", "bin")),
    ):
        op.create_table(
            table,
            *_agg_keys(),
            *columns,
            sa.PrimaryKeyConstraint(*_AGG_KEYS, *extra_keys, name=op.f(f"pk_{table}")),
        )
        op.create_index(
            f"ix_{table}_counter",
            table,
            ["grain", "cut", "scope", "counter_id", "period"],
            unique=False,
        )
    op.create_table(
        "metrics_load",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("arrivals", sa.Integer(), nullable=False),
        sa.Column("called", sa.Integer(), nullable=False),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("backlog_end", sa.Integer(), nullable=False),
        sa.Column("over_target_end", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", "service_id", "slot", name=op.f("pk_metrics_load")),
    )
    op.create_table(
        "metrics_rollup",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("counter_id", sa.String(length=32), nullable=False),
        sa.Column("staff", sa.String(length=64), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        *_rollup_sums(),
        sa.PrimaryKeyConstraint(
            "business_day",
            "slot",
            "service_id",
            "counter_id",
            "staff",
            name=op.f("pk_metrics_rollup"),
        ),
    )
    op.create_index(
        "ix_metrics_rollup_day_service",
        "metrics_rollup",
        ["business_day", "service_id"],
        unique=False,
    )
    op.create_index(
        "ix_metrics_rollup_counter_day",
        "metrics_rollup",
        ["counter_id", "business_day"],
        unique=False,
    )
    op.create_table(
        "ratings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("visit_id", _ID, nullable=False),
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("counter_id", sa.String(length=32), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_ratings_visit_id")),
    )
    op.create_index("ix_ratings_day", "ratings", ["business_day"], unique=False)
    op.create_table(
        "wait_log",
        sa.Column("ticket_id", _ID, autoincrement=False, nullable=False),
        sa.Column("visit_id", _ID, nullable=True),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("counter_id", sa.String(length=32), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.Column("call_count", sa.SmallInteger(), nullable=False),
        sa.Column("recall_count", sa.SmallInteger(), nullable=False),
        sa.Column("no_show_count", sa.SmallInteger(), nullable=False),
        sa.Column("tests_count", sa.SmallInteger(), nullable=False),
        sa.Column("away_s", sa.Integer(), nullable=False),
        sa.Column("transferred_from_id", _ID, nullable=True),
        sa.Column("transferred_to", sa.String(length=32), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("quoted_wait_s", sa.Integer(), nullable=True),
        sa.Column("people_ahead_at_issue", sa.Integer(), nullable=True),
        sa.Column("wait_s", sa.Integer(), nullable=True),
        sa.Column("service_s", sa.Integer(), nullable=True),
        sa.Column("walk_s", sa.Integer(), nullable=True),
        sa.Column("target_wait_s", sa.Integer(), nullable=False),
        sa.Column("sl_verdict", sa.SmallInteger(), nullable=True),
        sa.Column("issued_slot", sa.SmallInteger(), nullable=False),
        sa.Column("called_slot", sa.SmallInteger(), nullable=True),
        sa.Column("finished_slot", sa.SmallInteger(), nullable=True),
        sa.Column("line_from_s", sa.Integer(), nullable=True),
        sa.Column("line_to_s", sa.Integer(), nullable=True),
        sa.Column("wait_bin", sa.SmallInteger(), nullable=True),
        sa.Column("service_bin", sa.SmallInteger(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_wait_log")),
    )
    op.create_index(
        "ix_wait_log_day_service", "wait_log", ["business_day", "service_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_wait_log_day_service", table_name="wait_log")
    op.drop_table("wait_log")
    op.drop_index("ix_ratings_day", table_name="ratings")
    op.drop_table("ratings")
    for table in ("metrics_hist_agg", "metrics_rollup_agg"):
        op.drop_index(f"ix_{table}_counter", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_metrics_rollup_counter_day", table_name="metrics_rollup")
    op.drop_index("ix_metrics_rollup_day_service", table_name="metrics_rollup")
    op.drop_table("metrics_rollup")
    op.drop_table("metrics_load")
    op.drop_index("ix_metrics_hist_counter_day", table_name="metrics_hist")
    op.drop_index("ix_metrics_hist_day_service", table_name="metrics_hist")
    op.drop_table("metrics_hist")
    op.drop_table("metrics_days")
