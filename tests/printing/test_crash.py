"""kill -9 of the server while it prints: the job is not printed again by itself.

A real `queue-server serve` prints to a network printer on loopback (a fake that answers
DLE EOT status queries). When the ticket's bytes arrive, the fake stops answering and the test
SIGKILLs the server before it can record the outcome. The hall, started again on the same
database, finds the job `printing` with an expired lease and a `sent_at`: failed with
`print.interrupted`, not reprinted; the next ticket prints normally and the old one's bytes
never come again.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest
import requests

from queue_server import create_app, hall_of
from queue_server.config import Settings
from tests.printing.helpers import prepare_instance, wait_for
from tests.support.server import HallServer, server_env
from tests.support.sites import midday_site

P1 = "kiosk-1-printer"
DEMO = Path(__file__).resolve().parents[2] / "queue_server" / "sites" / "demo.toml"
STATUS_QUERY = re.compile(rb"\x10\x04[\x01-\x04]")


class NetworkPrinter:
    """A loopback raw-TCP printer: records job bytes, answers status queries with "online"."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.jobs = bytearray()  # everything but status queries
        self.mute_on_job = threading.Event()  # stop answering once job bytes arrive
        self.got_job = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                pending += chunk
                queries = STATUS_QUERY.findall(pending)
                data = STATUS_QUERY.sub(b"", pending)
                if data.endswith(b"\x10") or data.endswith(b"\x10\x04"):
                    keep = 1 if data.endswith(b"\x10") else 2
                    pending, data = data[-keep:], data[:-keep]
                else:
                    pending = b""
                with self.lock:
                    self.jobs += data
                if data:
                    self.got_job.set()
                if self.got_job.is_set() and self.mute_on_job.is_set():
                    continue
                for _ in queries:
                    conn.sendall(b"\x12")  # online, no error, paper present

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.jobs)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def printer() -> NetworkPrinter:
    p = NetworkPrinter()
    yield p
    p.close()


def test_kill_9_mid_print_fails_the_job_once_and_never_reprints_it(
    tmp_path: Path, printer: NetworkPrinter
) -> None:
    site = midday_site(  # the real clock: far from the hall's midnight day reset
        tmp_path,
        DEMO.read_text(encoding="utf-8").replace(
            'url = "virtual://printouts/kiosk-1"', f'url = "tcp://127.0.0.1:{printer.port}"', 1
        ),
    )
    env = server_env(
        tmp_path / "instance",
        site_file=str(site),
        print_lease_s="2",
        print_poll_s="0.2",
        print_status_interval_s="3600",
    )
    tokens = prepare_instance(env, {"kiosk-1": "kiosk"}, {"staff": "staff-pass-1"})
    kiosk = {"Authorization": f"Bearer {tokens['kiosk-1']}"}
    log = tmp_path / "server.log"

    printer.mute_on_job.set()
    server = HallServer(env, log)
    base = server.start()
    try:
        t = requests.post(
            f"{base}/api/v1/tickets", json={"service_id": "reg"}, headers=kiosk, timeout=10
        ).json()
        assert t["print"]["status"] == "queued"
        assert printer.got_job.wait(20), log.read_text()[-2000:]
        server.kill()  # SIGKILL: bytes handed over, outcome not yet recorded
    finally:
        server.stop()
    first_copy = printer.received()
    assert t["number"].encode() in first_copy

    printer.mute_on_job.clear()
    printer.got_job.clear()
    # The hall starts again on the same database (in this process: the recovery path is what
    # matters here, and a second server start would cost seconds).
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'instance' / 'queue.sqlite3'}",
            instance_dir=tmp_path / "instance",
            site_file=str(site),
            secret_key="test-secret",
            testing=True,
        ),
        async_mode="threading",
    )
    try:
        service = app.extensions["hall_printing"]
        client = app.test_client()
        login = {"username": "staff", "password": "staff-pass-1"}
        token = client.post("/api/v1/auth/login", json=login).get_json()["token"]
        staff = {"Authorization": f"Bearer {token}"}
        job_url = f"/api/v1/print-jobs/{t['print']['job_id']}"

        def job() -> dict:
            return client.get(job_url, headers=staff).get_json()

        # the dead server's lease runs out (2 s); the next round finds the job
        wait_for(lambda: service.step(P1) and job()["status"] == "failed", 20, "recovery")
        failed = job()
        assert failed["error_code"] == "print.interrupted" and failed["attempts"] == 1
        nxt = client.post("/api/v1/tickets", json={"service_id": "reg"}, headers=kiosk).get_json()
        assert service.step(P1)
        assert nxt["number"].encode() in printer.received()
        after = printer.received()[len(first_copy) :]
        assert t["number"].encode() not in after  # printed at most once
        assert not service.step(P1) and job()["status"] == "failed"
        # a person decides to print it again: a reprint, same number
        resp = client.post(f"/api/v1/tickets/{t['id']}/reprint", headers=staff)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        assert service.step(P1)
        assert t["number"].encode() in printer.received()[len(first_copy) :]
    finally:
        hall_of(app).db.dispose()
