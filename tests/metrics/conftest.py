"""Module-scoped databases for the metrics tests (one played day serves many assertions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.api.conftest import hall  # noqa: F401  (the HTTP hall fixture for these tests)
from tests.conftest import service_url
from tests.support.database import fresh_schema_url, migrated


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A migrated SQLite file or a fresh PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        yield migrated(f"sqlite:///{tmp / 'metrics.sqlite3'}")
        return
    with fresh_schema_url(service_url("QUEUE_TEST_POSTGRES_URL"), prefix="m") as url:
        yield url
