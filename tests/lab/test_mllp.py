"""MLLP over loopback: a real listener and real sockets; several messages on one connection,
frames split across writes, AA / AE / AR ACKs; and the `queue-server lab mllp` command."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from queue_server.lab.cli import exchange
from queue_server.lab.mllp import EB, SB, FrameReader, MLLPServer, frame
from tests.lab.conftest import FIXTURES, Lab, fixture_bytes
from tests.support.server import QUEUE_SERVER, cli, free_port, server_env


def msa(ack: bytes) -> tuple[str, str]:
    msg = parse_message(ack.decode(), validation_level=VALIDATION_LEVEL.TOLERANT)
    return msg.msa.msa_1.value, msg.msa.msa_2.value


@pytest.fixture
def listener(lab: Lab) -> Iterator[MLLPServer]:
    server = MLLPServer(
        lambda payload, peer: lab.service.ingest_hl7(payload, f"lis:mllp:{peer}")[0],
        "127.0.0.1",
        0,
    )
    server.start()
    yield server
    server.stop()


def test_frame_reader_handles_partial_and_several_frames() -> None:
    reader = FrameReader()
    data = b"noise" + frame(b"MSH|one") + frame(b"MSH|two") + SB + b"MSH|thr"
    got = [m for i in range(len(data)) for m in reader.feed(data[i : i + 1])]
    assert got == [b"MSH|one", b"MSH|two"]
    assert reader.feed(b"ee" + EB + b"\r") == [b"MSH|three"]


def test_round_trip_on_one_connection(lab: Lab, listener: MLLPServer) -> None:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        assert msa(exchange(sock, fixture_bytes("oru_lft_preliminary.hl7"))) == (
            "AA",
            "LIS20261123000140",
        )
        # the next message dribbles in a few bytes at a time
        data = frame(fixture_bytes("oru_lft_final.hl7"))
        for i in range(0, len(data), 7):
            sock.sendall(data[i : i + 7])
        reader = FrameReader()
        acks: list[bytes] = []
        while not acks:
            acks = reader.feed(sock.recv(4096))
        assert msa(acks[0]) == ("AA", "LIS20261123000199")
        assert msa(exchange(sock, fixture_bytes("oru_bad_status.hl7")))[0] == "AE"
        assert msa(exchange(sock, fixture_bytes("adt_a01.hl7")))[0] == "AR"
        # two messages in one write: two ACKs, in order
        sock.sendall(
            frame(fixture_bytes("oru_registered_two.hl7")) + frame(fixture_bytes("oru_cancel.hl7"))
        )
        reader, acks = FrameReader(), []
        while len(acks) < 2:
            acks += reader.feed(sock.recv(4096))
        assert [msa(a) for a in acks] == [("AA", "LIS20261123000102"), ("AA", "LIS20261123000150")]
    assert dict(lab.sql("SELECT specimen_id, status FROM lab_reports")) == {
        "2611230002": "final",
        "2611230003": "cancelled",
        "2611230004": "registered",
    }
    actors = {a for (a,) in lab.sql("SELECT actor FROM lab_audit")}
    assert all(a.startswith("lis:mllp:127.0.0.1:") for a in actors)


def test_queue_server_lab_mllp_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = server_env(tmp_path)
    cli(env, "init-db")
    port = free_port()
    proc = subprocess.Popen(
        [*QUEUE_SERVER, "lab", "mllp", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        import time

        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the MLLP listener did not open its port"
                time.sleep(0.05)  # polling interval of a bounded wait for the port
        out = cli(env, "lab", "send", str(FIXTURES / "oru_cbc_final.hl7"), "--port", str(port))
        assert "MSA|AA|LIS20261123000101" in out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode in (0, -15)


def test_serve_starts_the_listener_of_the_site(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from queue_server.site import DEMO_SITE
    from tests.support.server import serving

    port = free_port()
    site = tmp_path / "site.toml"
    site.write_text(
        DEMO_SITE.read_text(encoding="utf-8").replace("mllp_port = 2575", f"mllp_port = {port}"),
        encoding="utf-8",
    )
    env = server_env(tmp_path, site_file=str(site))
    cli(env, "init-db")
    with serving(env, tmp_path / "server.log"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            ack = exchange(sock, fixture_bytes("oru_cbc_final.hl7"))
        assert msa(ack) == ("AA", "LIS20261123000101")
