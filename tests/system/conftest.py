"""System-test fixtures: one pool of spawned worker processes for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.helpers.procs import ProcessPool

#: Kiosks (or counters) acting at once in the multi-process tests.
POOL_SIZE = 8


@pytest.fixture(scope="session")
def process_pool() -> Iterator[ProcessPool]:
    """8 spawned OS processes (runs of 8, or of 2 for two counters), reused across tests."""
    pool = ProcessPool(POOL_SIZE, sizes=(2,))
    yield pool
    pool.close()
