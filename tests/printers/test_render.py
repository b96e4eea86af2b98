"""Our ESC/POS → PNG renderer: QR and CODE128 decode (zxing-cpp), Chinese glyphs are drawn."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops

from printers import MODELS, open_printer
from printers.layouts import LabSlip, TicketSlip, lab_slip_bytes, ticket_bytes
from printers.render import CJK_FONT, code128_values, render, render_png

from .conftest import FOLLOW_URL


def decode(image: Image.Image, fmt: zxingcpp.BarcodeFormat) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=fmt)]


@pytest.mark.parametrize("model", ["generic-80", "generic-58", "generic-80-no-qr"])
def test_ticket_png_qr_decodes_to_follow_url(
    tmp_path: Path, ticket: TicketSlip, model: str
) -> None:
    m = MODELS[model]
    path = tmp_path / "ticket.png"
    result = render_png(ticket_bytes(ticket, m), path, m.dots)
    assert result.skipped == [] and result.wrapped == 0
    assert result.cuts == (1 if m.cutter else 0)
    image = Image.open(path)
    assert image.width == m.dots + 32
    assert decode(image, zxingcpp.BarcodeFormat.QRCode) == [FOLLOW_URL]


@pytest.mark.parametrize(
    ("model", "barcode"),
    [("generic-80", "2405010001"), ("generic-58", "12345"), ("generic-80", "LIS-77{x")],
)
def test_lab_slip_code128_decodes(lab_slip: LabSlip, model: str, barcode: str) -> None:
    m = MODELS[model]
    image = render(lab_slip_bytes(replace(lab_slip, barcode=barcode), m), m.dots).image
    assert decode(image, zxingcpp.BarcodeFormat.Code128) == [barcode]


def test_code128_values_follow_the_code_sets() -> None:
    values, text = code128_values(b"{C\x0c\x22{B5")
    assert text == "12345"
    assert values[:-1] == [105, 12, 34, 100, ord("5") - 32]  # start C, 12, 34, code B, "5"
    assert values[-1] == (105 + 12 + 2 * 34 + 3 * 100 + 4 * 21) % 103
    with pytest.raises(ValueError):
        code128_values(b"ABC")


@pytest.mark.skipif(not CJK_FONT.exists(), reason="fonts-wqy-microhei not installed")
def test_chinese_text_is_drawn_with_the_cjk_font() -> None:
    def line(text: str) -> Image.Image:
        return render(b"\x1b@\x1c&" + text.encode("gb18030") + b"\x1c.\n").image

    blank = render(b"\x1b@\n").image
    zhong, kou, tofu = line("中"), line("口"), line("\ue000")
    assert ImageChops.difference(zhong, blank).getbbox() is not None  # ink on paper
    assert ImageChops.difference(zhong, kou).getbbox() is not None  # different glyphs
    assert ImageChops.difference(zhong, tofu).getbbox() is not None  # not a missing-glyph box
    box = ImageChops.difference(zhong, blank).getbbox()
    assert box is not None and 16 <= box[2] - box[0] <= 24  # a double-width (24-dot) cell


def test_sizes_alignment_and_bold() -> None:
    def ink(data: bytes) -> tuple[int, int, int, int]:
        img = render(b"\x1b@" + data).image
        box = ImageChops.invert(img).getbbox()
        assert box is not None
        return box

    small, big = ink(b"A\n"), ink(b"\x1d!\x33A\n")
    assert (big[2] - big[0]) >= 3 * (small[2] - small[0])
    assert (big[3] - big[1]) >= 3 * (small[3] - small[1])
    left, right = ink(b"A\n"), ink(b"\x1ba\x02A\n")
    assert right[0] > left[0] + 400
    thin = render(b"\x1b@W\n").image.histogram()[0]
    bold = render(b"\x1b@\x1bE\x01W\n").image.histogram()[0]
    assert bold > thin


def test_unknown_commands_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="printers.render"):
        result = render(b"\x1b@\x1b\x99AB\x1d\x99\x1c\x99\n\x10\x04\x01")
    assert result.skipped == ["ESC 0x99", "GS 0x99", "FS 0x99"]
    assert "ESC 0x99" in caplog.text
    assert ImageChops.invert(result.image).getbbox() is not None  # "AB" still printed


def test_virtual_printer_writes_bin_and_png(tmp_path: Path, ticket: TicketSlip) -> None:
    data = ticket_bytes(ticket)
    conn = open_printer("virtual://printouts/kiosk-1", base_dir=tmp_path)
    conn.write(data)
    conn.write(data)
    folder = tmp_path / "printouts" / "kiosk-1"
    bins = sorted(folder.glob("*.bin"))
    assert len(bins) == 2  # <YYYYmmdd-HHMMSS>-<seq>.bin, unique even within one second
    assert all(len(p.stem) == len("20240501-093000-001") for p in bins)
    assert all(p.read_bytes() == data for p in bins)
    pngs = sorted(folder.glob("*.png"))
    assert [p.stem for p in pngs] == [p.stem for p in bins]
    assert decode(Image.open(pngs[0]), zxingcpp.BarcodeFormat.QRCode) == [FOLLOW_URL]
