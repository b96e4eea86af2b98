"""DLE EOT decoding tables and the virtual printer's STATUS file."""

from __future__ import annotations

from pathlib import Path

import pytest

from printers import PrinterError, PrinterState, open_printer, print_document
from printers.status import decode, query

S = PrinterState


@pytest.mark.parametrize(
    ("printer", "offline", "paper", "error", "state"),
    [
        (0x12, 0x12, 0x12, None, S.ONLINE),
        (0x16, 0x12, 0x12, None, S.ONLINE),  # drawer pin high does not matter
        (0x12, 0x12, 0x1E, None, S.PAPER_NEAR_END),
        (0x12, 0x12, 0x16, None, S.PAPER_NEAR_END),  # one near-end sensor bit
        (0x12, 0x12, 0x72, None, S.PAPER_END),  # paper sensor alone
        (0x1A, 0x32, 0x72, None, S.PAPER_END),
        (0x1A, 0x16, 0x12, None, S.COVER_OPEN),
        (0x1A, 0x36, 0x72, None, S.COVER_OPEN),  # cover open wins over paper end
        (0x1A, 0x52, 0x12, 0x1A, S.CUTTER_ERROR),
        (0x1A, 0x52, 0x12, 0x32, S.OFFLINE),  # unrecoverable error
        (0x1A, 0x1A, 0x12, None, S.OFFLINE),  # feeding by the feed button
        (0x1A, 0x12, 0x12, None, S.OFFLINE),
        (0x12, 0x52, 0x12, None, S.OFFLINE),  # error flagged while "online"
        (None, None, None, None, S.UNKNOWN),  # no answer is never ready
        (0x00, 0x12, 0x12, None, S.UNKNOWN),  # malformed: fixed bits wrong
        (0x12, 0xFF, 0x12, None, S.UNKNOWN),
        (0x12, None, None, None, S.ONLINE),  # only DLE EOT 1 answered
    ],
)
def test_decode_table(
    printer: int | None, offline: int | None, paper: int | None, error: int | None, state: S
) -> None:
    status = decode(printer, offline, paper, error)
    assert status.state is state
    assert status.ready is (state in (S.ONLINE, S.PAPER_NEAR_END))
    expected = "printer.unknown_status" if state is S.UNKNOWN else f"printer.{state.value}"
    assert status.code == expected


def test_query_sends_dle_eot_and_skips_xon_xoff() -> None:
    sent: list[bytes] = []
    replies = [0x11, 0x12, 0x13, 0x12, 0x12]

    def receive(timeout: float) -> int | None:
        return replies.pop(0) if replies else None

    status = query(sent.append, receive)
    assert status.state is S.ONLINE
    assert sent == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x04"]


def test_query_asks_error_cause_when_flagged() -> None:
    sent: list[bytes] = []
    replies = [0x1A, 0x52, 0x12, 0x1A]
    status = query(sent.append, lambda t: replies.pop(0) if replies else None)
    assert status.state is S.CUTTER_ERROR
    assert sent[-1] == b"\x10\x04\x03"


@pytest.mark.parametrize(
    ("word", "state", "refused"),
    [
        ("online", S.ONLINE, False),
        ("paper_near_end", S.PAPER_NEAR_END, False),
        ("offline", S.OFFLINE, True),
        ("cover_open", S.COVER_OPEN, True),
        ("paper_end", S.PAPER_END, True),
        ("cutter_error", S.CUTTER_ERROR, True),
        ("nonsense", S.UNKNOWN, False),
    ],
)
def test_virtual_status_file(tmp_path: Path, word: str, state: S, refused: bool) -> None:
    folder = tmp_path / "kiosk-1"
    folder.mkdir()
    (folder / "STATUS").write_text(word + "\n")
    conn = open_printer("virtual://kiosk-1", base_dir=tmp_path)
    assert conn.status().state is state
    if refused:
        with pytest.raises(PrinterError) as err:
            conn.write(b"\x1b@x\n")
        assert err.value.code == f"printer.{state.value}"
        assert list(folder.glob("*.bin")) == []
        outcome = print_document(conn, b"\x1b@x\n")
        assert (outcome.ok, outcome.code) == (False, f"printer.{state.value}")
    else:
        conn.write(b"\x1b@x\n")
        assert len(list(folder.glob("*.bin"))) == 1


def test_virtual_missing_status_file_is_online(tmp_path: Path) -> None:
    conn = open_printer(f"virtual://{tmp_path}/new")
    status = conn.status()
    assert status.state is S.ONLINE and status.ready
