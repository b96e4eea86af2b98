# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation is intended
"""Layouts → exact ESC/POS bytes; Chinese mode; column widths; QR and CODE128 sequences."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from escpos.printer import Dummy

from printers import MODELS, resolve_model
from printers.builder import LayoutError, code128_data, code128_modules
from printers.layouts import LabSlip, TicketSlip, lab_slip_bytes, ticket_bytes
from printers.layouts import test_page_bytes as page_bytes
from printers.render import render
from printers.text import columns, encode_text, pad, text_width, wrap

from .conftest import FOLLOW_URL

ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
ON, OFF = FS + b"&", FS + b"."


def gb(text: str) -> bytes:
    return ON + text.encode("gb18030") + OFF


def native_qr(content: str, module: int) -> bytes:
    """The GS ( k sequence, spelt out: model 2, module size, EC level M, store, print."""
    data = content.encode()
    n = len(data) + 3
    return (
        GS + b"(k\x04\x00" + b"1A2\x00"
        + GS + b"(k\x03\x00" + b"1C" + bytes([module])
        + GS + b"(k\x03\x00" + b"1E1"
        + GS + b"(k" + bytes([n % 256, n // 256]) + b"1P0" + data
        + GS + b"(k\x03\x00" + b"1Q0"
    )  # fmt: skip


def test_minimal_ticket_is_byte_exact_on_58mm() -> None:
    slip = TicketSlip(
        hospital_zh="协和医院",
        hospital_en="PUMCH",
        service_zh="内科",
        service_en="Medicine",
        number="B007",
        people_ahead=0,
        estimated_wait_min=None,
        issued_at=datetime(2024, 5, 1, 8, 5),
        follow_url="http://h/f/t",
    )
    expected = (
        ESC + b"@" + ESC + b"a\x01"
        + ESC + b"E\x01" + gb("协和医院") + b"\n" + ESC + b"E\x00" + b"PUMCH\n"
        + b"-" * 32 + b"\n"
        + ESC + b"E\x01" + gb("内科") + b"\n" + ESC + b"E\x00" + b"Medicine\n"
        + GS + b"!\x22" + ESC + b"E\x01" + b"B007\n" + ESC + b"E\x00" + GS + b"!\x00"
        + gb("前面还有 0 人  People ahead: 0") + b"\n"
        + gb("取号时间 2024-05-01 08:05") + b"\n"
        + ESC + b"d\x01" + native_qr("http://h/f/t", 5)
        + gb("扫码查看排队进度 Scan to follow") + b"\n"
        + ESC + b"d\x04"  # generic-58 has no cutter: feed only
    )  # fmt: skip
    assert ticket_bytes(slip, MODELS["generic-58"]) == expected


def test_native_qr_matches_python_escpos(ticket: TicketSlip) -> None:
    dummy = Dummy()
    dummy.qr(FOLLOW_URL, ec=1, size=6, native=True)
    data = ticket_bytes(ticket)
    assert native_qr(FOLLOW_URL, 6) == dummy.output
    assert data.count(dummy.output) == 1


@pytest.mark.parametrize("model", ["generic-80", "generic-58", "generic-80-gbk"])
def test_ticket_is_at_most_1kb(ticket: TicketSlip, model: str) -> None:
    long = replace(
        ticket,
        hospital_zh="中国医学科学院北京协和医院东单院区门诊部",
        hint_zh="请留意叫号屏幕和语音提示，过号需按规定重新排队，如有疑问请咨询服务台。",
        location_zh="门诊楼一层东侧抽血中心",
        priority_zh="优先（老年人）",
        reprint=True,
    )
    data = ticket_bytes(long, model)
    assert len(data) <= 1024, len(data)
    assert b"GS v 0" not in data and GS + b"v0" not in data  # no raster on a native-QR model
    assert GS + b"(k" in data


def test_ticket_chinese_mode_and_content(ticket: TicketSlip) -> None:
    data = ticket_bytes(ticket)
    assert data.startswith(ESC + b"@")
    assert data.count(ON) == data.count(OFF) > 0
    assert gb("抽血") in data and gb("北京协和医院") in data
    assert GS + b"!\x33" + ESC + b"E\x01" + b"A012\n" in data  # 4×4 big number on 80 mm
    assert "前面还有 3 人".encode("gb18030") in data
    assert "预计等候约 15 分钟".encode("gb18030") in data
    assert data.endswith(ESC + b"d\x04" + GS + b"V\x01")  # feed and partial cut


def test_no_qr_model_sends_an_image_for_the_qr_only(ticket: TicketSlip) -> None:
    data = ticket_bytes(ticket, "generic-80-no-qr")
    assert GS + b"(k" not in data
    assert data.count(GS + b"v0") == 1
    assert gb("抽血") in data  # text stays text


def test_58_and_80_widths(ticket: TicketSlip, lab_slip: LabSlip) -> None:
    t80, t58 = ticket_bytes(ticket, "generic-80"), ticket_bytes(ticket, "generic-58")
    assert b"-" * 48 + b"\n" in t80 and b"-" * 49 not in t80
    assert b"-" * 32 + b"\n" in t58 and b"-" * 33 not in t58
    assert GS + b"!\x22" in t58  # 3×3 number on 58 mm
    for model in ("generic-80", "generic-58"):
        dots = MODELS[model].dots
        for data in (
            ticket_bytes(ticket, model),
            lab_slip_bytes(lab_slip, model),
            page_bytes(model),
        ):
            assert render(data, dots).wrapped == 0  # no line is wider than the paper


def test_lab_slip_rows_and_barcode(lab_slip: LabSlip) -> None:
    data = lab_slip_bytes(lab_slip)
    code = b"{C" + bytes([24, 5, 1, 0, 1])
    assert GS + b"h\x50" + GS + b"w\x03" + GS + b"H\x02" + GS + b"f\x00" in data
    assert GS + b"k\x49" + bytes([len(code)]) + code in data
    row = columns(
        [("白细胞计数", 16, "left"), ("11.2", 8, "right"), ("↑", 2, "left"),
         ("10^9/L", 8, "left"), ("3.5-9.5", 10, "left")]
    )  # fmt: skip
    assert ESC + b"E\x01" + gb(row) + b"\n" in data  # flagged rows are bold
    assert gb("姓名 张*三") in data
    assert gb("本单为报告摘要，非正式存档报告") in data
    assert gb("报告时间 2024-05-01 10:00") in data
    assert gb("血红蛋白浓度测定值（长名）") + b"\n" in data  # long name on its own line


def test_test_page_shows_both_qr_paths() -> None:
    printed = datetime(2024, 5, 1, 12, 0)
    native = page_bytes("generic-80", printed_at=printed)
    image = page_bytes("generic-80-no-qr", printed_at=printed)
    assert GS + b"(k" in native and GS + b"v0" not in native
    assert GS + b"v0" in image and GS + b"(k" not in image
    assert gb("：（）") + b"\n" in native
    assert GS + b"k\x49" in native


@pytest.mark.parametrize(
    ("value", "data"),
    [
        ("2405010001", b"{C\x18\x05\x01\x00\x01"),
        ("12345", b"{C\x0c\x22{B5"),
        ("123", b"{B123"),
        ("S24-05", b"{BS24-05"),
        ("A{B", b"{BA{{B"),
    ],
)
def test_code128_code_sets(value: str, data: bytes) -> None:
    assert code128_data(value) == data


def test_code128_rejects_what_it_cannot_encode() -> None:
    for bad in ("", "标本1", "tab\there"):
        with pytest.raises(LayoutError):
            code128_data(bad)
    with pytest.raises(LayoutError):
        from printers.builder import Builder

        Builder(MODELS["generic-58"]).barcode128("X" * 40)
    assert code128_modules(b"{C\x18\x05") == 11 + 22 + 11 + 13


def test_punctuation_only_strings_are_gb_in_chinese_mode() -> None:
    assert encode_text("：（）") == b"\x1c&\xa3\xba\xa3\xa8\xa3\xa9\x1c."
    assert encode_text("——。") == ON + "——。".encode("gb18030") + OFF
    assert encode_text("A-1") == b"A-1"
    # python-escpos 3.1 neither enters Chinese mode nor sends GB bytes for these
    dummy = Dummy()
    dummy.text("：（）")
    assert ON not in dummy.output and "：（）".encode("gb18030") not in dummy.output


def test_text_encoding_edge_cases() -> None:
    assert encode_text("a\nb\x1bc") == b"a bc"  # no stray commands from content
    assert encode_text("𠮷", "gb18030") == ON + "𠮷".encode("gb18030") + OFF  # 4-byte GB18030
    assert encode_text("𠮷野", "gbk") == ON + b"?" + "野".encode("gbk") + OFF


def test_cjk_counts_double_width() -> None:
    assert text_width("中文AB") == 6
    assert text_width("：（）") == 6
    assert pad("中文", 6) == "中文  "
    assert pad("中文字", 5) == "中文 "  # never splits a double-width character
    assert pad("12", 5, "right") == "   12"
    assert pad("中", 4, "center") == " 中 "
    assert columns([("项目", 6, "left"), ("1.0", 5, "right")]) == "项目     1.0"
    assert wrap("请留意叫号屏幕过号需重新排队", 10) == ["请留意叫号", "屏幕过号需", "重新排队"]
    assert wrap("Watch the screen now", 10) == ["Watch the", "screen now"]


def test_models() -> None:
    assert resolve_model("generic", 58) is MODELS["generic-58"]
    assert resolve_model("generic", 80) is MODELS["generic-80"]
    assert resolve_model(None) is MODELS["generic-80"]
    assert not MODELS["generic-80-no-qr"].native_qr
    assert (MODELS["generic-58"].dots, MODELS["generic-58"].chars) == (384, 32)
    with pytest.raises(KeyError):
        resolve_model("epson-xyz")
