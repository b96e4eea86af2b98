"""Event names, namespaces and rooms: the one source of truth shared by server and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NS_DISPLAY = "/display"
NS_KIOSK = "/kiosk"
NS_STAFF = "/staff"
NS_AGENT = "/agent"
NAMESPACES = (NS_DISPLAY, NS_KIOSK, NS_STAFF, NS_AGENT)

SNAPSHOT = "snapshot"
TICKET_CALLED = "ticket.called"
QUEUE_CHANGED = "queue.changed"
COUNTER_CHANGED = "counter.changed"
TICKET_CHANGED = "ticket.changed"
PRINT_JOB = "print.job"

KIOSK_ROOM = "kiosks"
STAFF_ROOM = "staff"


def service_room(service_id: str) -> str:
    return f"service:{service_id}"


@dataclass(frozen=True)
class Event:
    """One message to send after a transaction commits."""

    namespace: str
    name: str
    room: str
    payload: dict[str, Any]
