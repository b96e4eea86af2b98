"""Migrated test databases: an SQLite file's URL, or a fresh PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text

from queue_server.persistence.engine import make_engine
from queue_server.persistence.migrate import upgrade


def migrated(url: str) -> str:
    """Bring the database at ``url`` to the newest schema (all heads); returns ``url``."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


@contextmanager
def fresh_schema_url(base: str, prefix: str = "t") -> Iterator[str]:
    """A new, migrated schema in the PostgreSQL at ``base``, dropped (CASCADE) afterwards.

    The URL yielded is ``base`` with ``search_path`` set to that schema, so every connection of
    an engine (or of a server process given it) works inside it alone.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in base else "?"
            yield migrated(f"{base}{sep}options={quote(f'-csearch_path={schema}')}")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
