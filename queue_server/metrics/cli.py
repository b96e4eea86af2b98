"""``queue-server metrics ...``: rebuild the wait log and rollups, generate demo history."""

from __future__ import annotations

import datetime as dt
import json

import click


def _context():  # type: ignore[no-untyped-def]
    from ..config import Settings
    from ..persistence.engine import Database
    from ..services.context import HallContext
    from ..site import load_site

    settings = Settings.from_env()
    return HallContext(site=load_site(settings.site_file), db=Database(settings.database_url))


@click.group("metrics")
def metrics() -> None:
    """Wait log, rollups and demo history (docs/metrics.md)."""


@metrics.command("rebuild")
@click.option("--from", "first", required=True, help="First business day, e.g. 2026-11-01.")
@click.option("--to", "last", default=None, help="Last business day (default: today).")
def rebuild(first: str, last: str | None) -> None:
    """Rebuild the wait log and rollups of a range of business days from the log."""
    from .build import build_days

    ctx = _context()
    day = dt.date.fromisoformat(first)
    end = dt.date.fromisoformat(last) if last else ctx.day()
    days = []
    while day <= end:
        days.append(day)
        day += dt.timedelta(days=1)
    built = build_days(ctx, days)
    click.echo(json.dumps({"built": {d.isoformat(): n for d, n in built.items()}}))


@metrics.command("close-days")
def close() -> None:
    """Build every closed business day that has no metrics yet (the day reset does this too)."""
    from .build import close_days

    click.echo(json.dumps({"built": [d.isoformat() for d in close_days(_context())]}))


@metrics.command("generate")
@click.option("--days", default=21, show_default=True, type=click.IntRange(1, 400))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.05, 20))
def generate(days: int, seed: int, scale: float) -> None:
    """Simulate realistic past days of the configured hall (demo and screenshots only)."""
    from .generate import generate_history

    click.echo(json.dumps(generate_history(_context(), days, seed, scale)))
