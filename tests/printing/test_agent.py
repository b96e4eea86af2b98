"""The kiosk print agent end to end: a real `queue-server serve` and real `print-agent` processes.

The agent prints into its own virtual folder (the kiosk PC's printer), the server's worker into
the folder of the site file, so each slip shows who printed it. Covered: the agent owns its
kiosk's printer while connected; its status reports reach the printer view; jobs queued while
it is away wait for it (a restarted agent catches up); after the grace period the server's
worker takes the printer over.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.printing.helpers import pngs, prepare_instance, wait_for
from tests.support.server import QUEUE_SERVER, HallServer, server_env

P1 = "kiosk-1-printer"
GRACE_S = 4


class Hall:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.instance = tmp / "instance"
        self.env = server_env(
            self.instance,
            print_lease_s="10",
            print_agent_grace_s=str(GRACE_S),
            print_poll_s="0.2",
            print_status_interval_s="3600",
        )
        tokens = prepare_instance(
            self.env,
            {"kiosk-1": "kiosk", "kiosk-1-agent": "agent"},
            {"staff": "staff-pass-1"},
        )
        self.kiosk = {"Authorization": f"Bearer {tokens['kiosk-1']}"}
        self.token_file = tmp / "agent.token"
        self.token_file.write_text(tokens["kiosk-1-agent"] + "\n")
        self.agent_folder = tmp / "kiosk-pc-printer"
        self.site_folder = self.instance / "printouts" / "kiosk-1"
        self.base = ""
        self.staff: dict[str, str] = {}

    def login(self) -> None:
        r = requests.post(
            f"{self.base}/api/v1/auth/login",
            json={"username": "staff", "password": "staff-pass-1"},
            timeout=10,
        )
        self.staff = {"Authorization": f"Bearer {r.json()['token']}"}

    def take(self) -> dict[str, Any]:
        r = requests.post(
            f"{self.base}/api/v1/tickets",
            json={"service_id": "reg"},
            headers=self.kiosk,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return r.json()

    def job(self, job_id: int) -> dict[str, Any]:
        return requests.get(
            f"{self.base}/api/v1/print-jobs/{job_id}", headers=self.staff, timeout=10
        ).json()

    def printer(self) -> dict[str, Any]:
        return requests.get(
            f"{self.base}/api/v1/printers/{P1}", headers=self.staff, timeout=10
        ).json()

    def start_agent(self, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [
                    *QUEUE_SERVER,
                    "print-agent",
                    "--server",
                    self.base,
                    "--token-file",
                    str(self.token_file),
                    "--printer",
                    f"{P1}=virtual://{self.agent_folder}",
                    "--status-interval",
                    "0.5",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp("agent-hall")
    h = Hall(tmp)
    with HallServer(h.env, tmp / "server.log") as server:
        h.base = server.base
        h.login()
        yield h


def printed_numbers(folder: Path) -> bytes:
    return (
        b"".join(p.read_bytes() for p in sorted(folder.glob("*.bin"))) if folder.exists() else b""
    )


def test_agent_prints_reports_catches_up_and_hands_over(hall: Hall, tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    agent = hall.start_agent(log)
    try:
        wait_for(lambda: hall.printer()["owner"] == "agent:kiosk-1-agent", 20, "the agent")
        t1 = hall.take()
        wait_for(lambda: len(pngs(hall.agent_folder)) == 1, 20, "the agent's print")
        assert t1["number"].encode() in printed_numbers(hall.agent_folder)
        wait_for(lambda: hall.job(t1["print"]["job_id"])["status"] == "printed", 10)
        assert pngs(hall.site_folder) == []

        # paper runs out at the kiosk: the agent's report reaches the printer view, once
        (hall.agent_folder / "STATUS").write_text("paper_end\n")
        wait_for(lambda: hall.printer()["state"] == "paper_end", 10, "paper end reported")
        t2 = hall.take()
        wait_for(lambda: hall.job(t2["print"]["job_id"])["status"] == "failed", 10)
        assert hall.job(t2["print"]["job_id"])["error_code"] == "printer.paper_end"
        (hall.agent_folder / "STATUS").unlink()
        wait_for(lambda: hall.printer()["state"] == "online", 10, "paper reloaded")
        r = requests.post(
            f"{hall.base}/api/v1/print-jobs/{t2['print']['job_id']}/retry",
            headers=hall.staff,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: hall.job(t2["print"]["job_id"])["status"] == "printed", 20)
        assert t2["number"].encode() in printed_numbers(hall.agent_folder)

        # the agent dies; a ticket issued meanwhile waits for it, the restarted agent prints it
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        t3 = hall.take()
        agent = hall.start_agent(log)
        wait_for(lambda: hall.job(t3["print"]["job_id"])["status"] == "printed", 20)
        assert t3["number"].encode() in printed_numbers(hall.agent_folder)
        assert pngs(hall.site_folder) == []

        # gone for longer than the grace period: the server's worker takes the printer over.
        # (A ticket issued before the server has seen the agent go may still be handed to it
        # and end as print.interrupted: the test waits for the assignment to lapse first.)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        wait_for(lambda: hall.printer()["owner"] is None, GRACE_S + 20, "the grace to run out")
        t4 = hall.take()
        wait_for(
            lambda: t4["number"].encode() in printed_numbers(hall.site_folder),
            GRACE_S + 20,
            "the worker to take over",
        )
        assert t4["number"].encode() not in printed_numbers(hall.agent_folder)
        assert hall.job(t4["print"]["job_id"])["status"] == "printed"
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
