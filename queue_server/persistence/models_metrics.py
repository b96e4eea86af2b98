"""Metrics tables: the wait log (one row per ticket transaction), rollups, ratings.

No foreign keys to ``tickets``: the end-of-day reset moves tickets to history, and these rows
outlive both. Every column is derived from the state-change log and can be rebuilt from it
(``queue-server metrics rebuild``), except ``ratings``, which patients give.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Id, Moment


class WaitLog(Base):
    """One ticket transaction (a ticket's stay in one service), folded from ``ticket_events``.

    Durations are whole seconds. ``*_slot`` are local 15-minute buckets (0-95) of the business
    day; ``line_from_s``/``line_to_s`` are local seconds of the day the ticket joined the line
    and left it (first call, or cancel/transfer/reset; NULL while still waiting).
    """

    __tablename__ = "wait_log"
    __table_args__ = (Index("ix_wait_log_day_service", "business_day", "service_id"),)
    ticket_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    visit_id: Mapped[int | None] = mapped_column(Id)
    business_day: Mapped[dt.date] = mapped_column(Date)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    service_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(32), default="normal")
    source: Mapped[str | None] = mapped_column(String(16))
    appointment_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    issued_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    first_called_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    called_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    started_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    ended_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    outcome: Mapped[str] = mapped_column(String(20))
    counter_id: Mapped[str | None] = mapped_column(String(32))
    staff: Mapped[str | None] = mapped_column(String(64))
    call_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    recall_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    no_show_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    tests_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    away_s: Mapped[int] = mapped_column(Integer, default=0)
    transferred_from_id: Mapped[int | None] = mapped_column(Id)
    transferred_to: Mapped[str | None] = mapped_column(String(32))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    quoted_wait_s: Mapped[int | None] = mapped_column(Integer)
    people_ahead_at_issue: Mapped[int | None] = mapped_column(Integer)
    wait_s: Mapped[int | None] = mapped_column(Integer)
    service_s: Mapped[int | None] = mapped_column(Integer)
    walk_s: Mapped[int | None] = mapped_column(Integer)
    target_wait_s: Mapped[int] = mapped_column(Integer)
    sl_verdict: Mapped[int | None] = mapped_column(SmallInteger)  # 1 within, 0 over, NULL none
    issued_slot: Mapped[int] = mapped_column(SmallInteger)
    called_slot: Mapped[int | None] = mapped_column(SmallInteger)
    finished_slot: Mapped[int | None] = mapped_column(SmallInteger)
    line_from_s: Mapped[int | None] = mapped_column(Integer)
    line_to_s: Mapped[int | None] = mapped_column(Integer)
    wait_bin: Mapped[int | None] = mapped_column(SmallInteger)
    service_bin: Mapped[int | None] = mapped_column(SmallInteger)
    rating: Mapped[int | None] = mapped_column(SmallInteger)


class MetricsRollup(Base):
    """Per business day x arrival bucket x service x counter x staff ('' = none): counts and
    sums, so any grouping of a date range is a SUM over few rows."""

    __tablename__ = "metrics_rollup"
    __table_args__ = (
        Index("ix_metrics_rollup_day_service", "business_day", "service_id"),
        Index("ix_metrics_rollup_counter_day", "counter_id", "business_day"),
    )
    business_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff: Mapped[str] = mapped_column(String(64), primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    called: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    sent_for_tests: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    sl_within: Mapped[int] = mapped_column(Integer, default=0)
    sl_total: Mapped[int] = mapped_column(Integer, default=0)
    wait_n: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_max: Mapped[int | None] = mapped_column(Integer)
    service_n: Mapped[int] = mapped_column(Integer, default=0)
    service_sum: Mapped[float] = mapped_column(Float, default=0.0)
    service_max: Mapped[int | None] = mapped_column(Integer)
    quoted_n: Mapped[int] = mapped_column(Integer, default=0)
    quoted_err_sum: Mapped[float] = mapped_column(Float, default=0.0)
    quoted_abs_err_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rating_n: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)


class MetricsHist(Base):
    """Histogram bins of wait ('w') and service ('s') times per day x arrival hour x service x
    counter x staff: percentiles over any range without reading the wait log."""

    __tablename__ = "metrics_hist"
    __table_args__ = (
        Index("ix_metrics_hist_day_service", "business_day", "service_id"),
        Index("ix_metrics_hist_counter_day", "counter_id", "business_day"),
    )
    business_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(1), primary_key=True)
    bin: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    n: Mapped[int] = mapped_column(Integer)


#: Key columns of the coarse levels, in primary-key order (a range scan reads one cut).
AGG_KEYS = (
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


class _AggKeys:
    """Keys of the coarse levels (``metrics_rollup_agg``, ``metrics_hist_agg``).

    ``grain``: 'day' (``period`` = the business day) or 'month' (``period`` = its first day).
    ``cut``: 'all' (whole day, ``hour`` = -1), 'hour' (per local arrival hour) or 'weekday'
    (months only: per weekday). ``weekday``: the day's weekday at grain 'day', the cut's value
    for cut 'weekday', else -1. ``scope``: 'staff' (service x counter x staff, as the fine
    tables), 'service' (counter and staff = '*') or 'hall' (all three '*'). Every row is an
    exact sum of fine rows, so any figure is the same whichever level it is read from.
    """

    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    cut: Mapped[str] = mapped_column(String(8), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff: Mapped[str] = mapped_column(String(64), primary_key=True)


class MetricsRollupAgg(_AggKeys, Base):
    """``metrics_rollup`` summed to a coarser level (see ``_AggKeys``): same counts and sums."""

    __tablename__ = "metrics_rollup_agg"
    __table_args__ = (
        PrimaryKeyConstraint(*AGG_KEYS),
        Index("ix_metrics_rollup_agg_counter", "grain", "cut", "scope", "counter_id", "period"),
    )
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    called: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    sent_for_tests: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    sl_within: Mapped[int] = mapped_column(Integer, default=0)
    sl_total: Mapped[int] = mapped_column(Integer, default=0)
    wait_n: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_max: Mapped[int | None] = mapped_column(Integer)
    service_n: Mapped[int] = mapped_column(Integer, default=0)
    service_sum: Mapped[float] = mapped_column(Float, default=0.0)
    service_max: Mapped[int | None] = mapped_column(Integer)
    quoted_n: Mapped[int] = mapped_column(Integer, default=0)
    quoted_err_sum: Mapped[float] = mapped_column(Float, default=0.0)
    quoted_abs_err_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rating_n: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)


class MetricsHistAgg(_AggKeys, Base):
    """``metrics_hist`` summed to a coarser level (see ``_AggKeys``): the same bins, added up,
    so percentiles read from it are identical."""

    __tablename__ = "metrics_hist_agg"
    __table_args__ = (
        PrimaryKeyConstraint(*AGG_KEYS, "metric", "bin"),
        Index("ix_metrics_hist_agg_counter", "grain", "cut", "scope", "counter_id", "period"),
    )
    metric: Mapped[str] = mapped_column(String(1), primary_key=True)
    bin: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class MetricsLoad(Base):
    """Per business day x 15-minute bucket x service: arrivals, first calls and services that
    fell in the bucket, and who still waited at its end (backlog carried over)."""

    __tablename__ = "metrics_load"
    business_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    called: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    backlog_end: Mapped[int] = mapped_column(Integer, default=0)
    over_target_end: Mapped[int] = mapped_column(Integer, default=0)


class MetricsDay(Base):
    """Which business days have their wait log and rollups built, and when."""

    __tablename__ = "metrics_days"
    business_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(Moment)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    transactions: Mapped[int] = mapped_column(Integer, default=0)


class Rating(Base):
    """A patient's one-tap satisfaction score (1-5) for a visit, tied to the ticket served."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_day", "business_day"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(Id, unique=True)
    ticket_id: Mapped[int] = mapped_column(Id)
    business_day: Mapped[dt.date] = mapped_column(Date)
    service_id: Mapped[str] = mapped_column(String(32))
    counter_id: Mapped[str | None] = mapped_column(String(32))
    staff: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(16))  # phone | kiosk
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
