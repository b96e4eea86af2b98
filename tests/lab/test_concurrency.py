"""Print once under concurrency: kiosks scanning the same receipt at the same moment get exactly
one print job between them, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

from queue_server.domain.errors import QueueError
from tests.lab.conftest import Lab


def test_simultaneous_scans_print_once(any_lab: Lab) -> None:
    lab = any_lab
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    kiosks = ["kiosk-1", "kiosk-2"] * 3
    barrier = threading.Barrier(len(kiosks))
    outcomes: list[str] = []
    lock = threading.Lock()

    def scan(kiosk_id: str) -> None:
        barrier.wait(timeout=30)
        try:
            lab.service.print_slip(token, "1980-05-12", kiosk_id, f"device:{kiosk_id}")
            outcome = "printed"
        except QueueError as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=scan, args=(k,)) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["lab.already_printed"] * 5 + ["printed"]
    assert lab.sql("SELECT count(*) FROM print_jobs WHERE document = 'lab_slip'") == [(1,)]
    assert lab.sql("SELECT print_count FROM lab_reports") == [(1,)]
    audit = [o for (o,) in lab.sql("SELECT outcome FROM lab_audit WHERE action = 'print'")]
    assert sorted(audit) == ["already_printed"] * 5 + ["queued"]
