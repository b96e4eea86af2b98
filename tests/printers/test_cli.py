"""``queue-server printer status|test`` through a subprocess, and the package's independence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import zxingcpp
from PIL import Image

from .fakes import SocatPair, serial_fake

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "queue_server", "printer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_status_and_test_on_a_virtual_printer(tmp_path: Path) -> None:
    url = f"virtual://{tmp_path}/p"
    code, body = run("status", url)
    assert code == 0 and body["ok"] is True and body["status"]["state"] == "online"  # type: ignore[index]
    code, body = run("test", url, "--model", "generic-58")
    assert code == 0 and body["ok"] is True and body["document"] == "ticket"
    bin_path, png_path = (Path(p) for p in body["files"])  # type: ignore[attr-defined]
    assert bin_path.stat().st_size == body["bytes"] and body["bytes"] <= 1024  # type: ignore[operator]
    qr = zxingcpp.read_barcodes(Image.open(png_path), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in qr] == ["https://example.org/follow/TEST"]


def test_faults_exit_non_zero_with_a_json_error(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "STATUS").write_text("paper_end")
    code, body = run("status", f"virtual://{folder}")
    assert code == 1 and body["error"]["code"] == "printer.paper_end"  # type: ignore[index]
    code, body = run("test", f"virtual://{folder}")
    assert code == 1 and body["error"]["code"] == "printer.paper_end"  # type: ignore[index]
    assert list(folder.glob("*.bin")) == []


def test_bad_input_exits_2() -> None:
    code, body = run("status", "lpt://1")
    assert code == 2 and body["error"]["code"] == "printer.bad_url"  # type: ignore[index]
    code, body = run("test", "virtual:///tmp/x", "--model", "nope")
    assert code == 2 and body["error"]["code"] == "printer.unknown_model"  # type: ignore[index]
    code, body = run("status", "serial:///dev/ttyNO_SUCH")
    assert code == 1 and body["error"]["code"] == "printer.not_found"  # type: ignore[index]


def test_status_of_a_serial_printer_with_paper_end(tmp_path: Path) -> None:
    pair = SocatPair(tmp_path)
    fake, port = serial_fake(pair)
    try:
        fake.state = "paper_end"
        code, body = run("status", f"serial://{pair.host}?baudrate=38400")
        assert code == 1 and body["status"]["state"] == "paper_end"  # type: ignore[index]
        fake.state = "online"
        code, body = run("test", f"serial://{pair.host}?baudrate=38400", "--document", "test-page")
        assert code == 0 and body["ok"] is True
        assert len(fake.printed()) == body["bytes"]
    finally:
        fake.close()
        port.close()
        pair.close()


def test_printers_imports_nothing_from_queue_server() -> None:
    code = (
        "import sys, printers, printers.cli, printers.render, printers.layouts;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'queue_server'];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    proc = subprocess.run(
        [sys.executable, "-m", "printers.cli", "status", "lpt://1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and json.loads(proc.stdout)["error"]["code"] == "printer.bad_url"
