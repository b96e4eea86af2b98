"""What the services need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..realtime.contracts import Event


class Publisher(Protocol):
    def publish(self, events: Sequence[Event]) -> None: ...


class NullPublisher:
    """Drops events (CLI commands that change nothing a screen shows)."""

    def publish(self, events: Sequence[Event]) -> None:
        return None


class RecordingPublisher:
    """Keeps events in memory (unit tests of services)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
