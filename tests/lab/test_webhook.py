"""Readiness webhook: an outbox row in the transaction that makes a report final, delivered to a
local HTTP server with an HMAC signature, retried with backoff after a failure."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from queue_server.lab.webhook import WebhookSender, verify
from tests.lab.conftest import Lab

SECRET = b"webhook-test-secret"


class Receiver:
    """A local HTTP endpoint answering with the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.requests.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/lab-ready"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, deadline_s: float = 10) -> None:
        end = time.monotonic() + deadline_s
        with self.arrived:
            while len(self.requests) < n:
                left = end - time.monotonic()
                assert left > 0, f"only {len(self.requests)} of {n} deliveries arrived"
                self.arrived.wait(left)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def configure(lab: Lab, url: str) -> WebhookSender:
    lab.service.config = dataclasses.replace(lab.service.config, webhook_url=url)
    return WebhookSender(lab.service.ctx, lab.service.config, SECRET, backoff_base_s=10)


def test_final_report_is_announced_with_retry(lab: Lab, receiver: Receiver) -> None:
    sender = configure(lab, receiver.url)
    lab.hl7("oru_lft_preliminary.hl7")
    assert lab.sql("SELECT count(*) FROM lab_outbox") == [(0,)]
    lab.hl7("oru_lft_final.hl7")
    assert lab.sql("SELECT event, attempts FROM lab_outbox") == [("lab.report.ready", 0)]
    receiver.statuses = [503]
    assert sender.deliver_due() == 0
    assert lab.sql("SELECT attempts, last_error FROM lab_outbox") == [(1, "HTTP 503")]
    assert sender.deliver_due() == 0  # not due before the backoff
    assert len(receiver.requests) == 1
    lab.clock.advance(seconds=11)
    assert sender.deliver_due() == 1
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    assert headers["X-Hall-Event"] == "lab.report.ready"
    assert verify(SECRET, headers["X-Hall-Signature"], body)
    assert not verify(b"other-secret", headers["X-Hall-Signature"], body)
    payload = json.loads(body)
    assert payload["patient_masked"] == "欧阳*华" and payload["ready"] is True
    assert payload["specimen_id"] == "2611230002" and payload["status"] == "final"
    assert len(payload["receipt_hint"]) == 4
    text = body.decode()
    for secret in ("欧阳明华", "19561103", "13900001234", "P00987654"):
        assert secret not in text
    assert lab.sql("SELECT delivered_at IS NOT NULL, attempts FROM lab_outbox") == [(1, 2)]
    # a resend of the same final report announces nothing new; a correction does
    lab.hl7("oru_lft_final.hl7")
    assert lab.sql("SELECT count(*) FROM lab_outbox") == [(1,)]


def test_sender_gives_up_after_max_attempts(lab: Lab, receiver: Receiver) -> None:
    sender = configure(lab, receiver.url)
    sender.max_attempts = 2
    lab.hl7("oru_cbc_final.hl7")
    receiver.statuses = [500, 500]
    sender.deliver_due()
    lab.clock.advance(seconds=11)
    sender.deliver_due()
    assert lab.sql("SELECT attempts, gave_up_at IS NOT NULL FROM lab_outbox") == [(2, 1)]
    lab.clock.advance(hours=2)
    assert sender.deliver_due() == 0 and len(receiver.requests) == 2


def test_background_sender_is_woken_by_the_commit(lab: Lab, receiver: Receiver) -> None:
    sender = configure(lab, receiver.url)
    sender.poll_s = 60  # only the wake-up after the commit can deliver in time
    lab.app.extensions["hall_lab_webhook"] = sender
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    try:
        sender.deliver_due()  # nothing yet
        lab.hl7("oru_cbc_final.hl7")
        receiver.wait_for(1)
        lab.hl7("oru_cbc_corrected.hl7")
        receiver.wait_for(2)
        events = [h["X-Hall-Event"] for h, _ in receiver.requests]
        assert events == ["lab.report.ready", "lab.report.corrected"]
    finally:
        sender.stop()
        thread.join(timeout=10)
