"""tickets: indexes that count a line without reading its rows

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23 10:00:00

``ix_tickets_service_status`` (service_id, status) becomes ``ix_tickets_line`` (service_id,
status, priority, auto_call, precalled_counter): it still serves every lookup by service and
status, and it covers the per-group counts of a line, in group order. ``ix_tickets_line_key``
(service_id, status, key_slot, key_lane, key_time, …) finds the tickets at or after a place in
line by a range. Ticket issue then costs the same with 1,000 waiting as with none
(``bench.issue_cost --waiting``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINE = ["service_id", "status", "priority", "auto_call", "precalled_counter"]
LINE_KEY = [
    "service_id",
    "status",
    "key_slot",
    "key_lane",
    "key_time",
    "priority",
    "auto_call",
    "precalled_counter",
]


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_service_status")
        batch_op.create_index("ix_tickets_line", LINE, unique=False)
        batch_op.create_index("ix_tickets_line_key", LINE_KEY, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_line_key")
        batch_op.drop_index("ix_tickets_line")
        batch_op.create_index("ix_tickets_service_status", ["service_id", "status"], unique=False)
