# ruff: noqa: RUF001 - Chinese full-width punctuation is intended
"""Documents → ESC/POS bytes: the number ticket, the lab-report slip, the printer test page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .builder import Builder
from .models import MODELS, PrinterModel
from .text import columns, pad, text_width

DEFAULT_MODEL = MODELS["generic-80"]


@dataclass(frozen=True)
class TicketSlip:
    """A number ticket as the kiosk prints it (docs/printing.md)."""

    hospital_zh: str
    hospital_en: str
    service_zh: str
    service_en: str
    number: str
    people_ahead: int
    estimated_wait_min: int | None
    issued_at: datetime
    follow_url: str | None
    location_zh: str = ""
    location_en: str = ""
    hint_zh: str = ""
    hint_en: str = ""
    priority_zh: str = ""
    reprint: bool = False


@dataclass(frozen=True)
class LabLine:
    """One test result; ``flag`` is "", "H" (high), "L" (low) or "A" (abnormal)."""

    code: str
    name: str
    value: str
    unit: str
    reference_range: str
    flag: str = ""


@dataclass(frozen=True)
class LabSlip:
    """A lab-report summary slip (docs/printing.md). ``patient_masked`` is already masked."""

    hospital_zh: str
    patient_masked: str
    specimen_id: str
    barcode: str
    report_time: datetime
    lines: list[LabLine] = field(default_factory=list)
    title_zh: str = "检验报告单（摘要）"
    note_zh: str = "本单为报告摘要，非正式存档报告"
    printed_at: datetime | None = None


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _model(model: PrinterModel | str | None) -> PrinterModel:
    if model is None:
        return DEFAULT_MODEL
    return MODELS[model] if isinstance(model, str) else model


def ticket_bytes(slip: TicketSlip, model: PrinterModel | str | None = None) -> bytes:
    """The number ticket: text in the printer's font, the number big, a native QR
    (or a QR image on models without one). About 0.6 KB on a native-QR model."""
    m = _model(model)
    b = Builder(m).align("center")
    if slip.reprint:
        b.line("补打 REPRINT")
    b.bold().para(slip.hospital_zh).bold(False)
    if slip.hospital_en:
        b.para(slip.hospital_en)
    b.rule()
    b.bold().para(slip.service_zh).bold(False)
    if slip.service_en:
        b.para(slip.service_en)
    if slip.priority_zh:
        b.bold().para(slip.priority_zh).bold(False)
    big = 4 if m.chars >= 48 else 3
    b.size(big, big).bold().line(slip.number).bold(False).size()
    b.para(f"前面还有 {slip.people_ahead} 人  People ahead: {slip.people_ahead}")
    if slip.estimated_wait_min is not None:
        b.para(
            f"预计等候约 {slip.estimated_wait_min} 分钟  Est. wait ~{slip.estimated_wait_min} min"
        )
    if slip.location_zh or slip.location_en:
        b.para(" ".join(x for x in (slip.location_zh, slip.location_en) if x))
    b.line(f"取号时间 {_fmt(slip.issued_at)}")
    if slip.follow_url:
        b.feed(1).qr(slip.follow_url, module=6 if m.chars >= 48 else 5)
        b.line("扫码查看排队进度 Scan to follow")
    if slip.hint_zh:
        b.para(slip.hint_zh)
    if slip.hint_en:
        b.para(slip.hint_en)
    return b.cut().bytes()


FLAG_TEXT = {"": "", "H": "↑", "L": "↓", "A": "*"}


def _lab_line(b: Builder, line: LabLine) -> None:
    flag = FLAG_TEXT.get(line.flag, line.flag)
    b.bold(bool(line.flag))
    if b.chars >= 48:
        name_w = 16
        if text_width(line.name) > name_w:
            b.line(line.name)
            name = ""
        else:
            name = line.name
        b.line(
            columns(
                [
                    (name, name_w, "left"),
                    (line.value, 8, "right"),
                    (flag, 2, "left"),
                    (line.unit, 8, "left"),
                    (line.reference_range, 10, "left"),
                ]
            )
        )
    else:
        b.line(line.name)
        b.line(
            columns(
                [
                    ("", 1, "left"),
                    (line.value, 8, "right"),
                    (flag, 2, "left"),
                    (line.unit, 8, "left"),
                    (line.reference_range, 9, "left"),
                ]
            )
        )
    b.bold(False)


def lab_slip_bytes(slip: LabSlip, model: PrinterModel | str | None = None) -> bytes:
    """The lab-report summary slip: masked name, CODE128 of the specimen barcode, one row per
    test with value, unit, reference range and flag, and the "summary only" note."""
    m = _model(model)
    b = Builder(m).align("center").bold().para(slip.hospital_zh)
    b.size(1, 2).para(slip.title_zh).size().bold(False)
    b.align("left").rule()
    b.para(f"姓名 {slip.patient_masked}")
    b.para(f"标本号 {slip.specimen_id}")
    b.para(f"报告时间 {_fmt(slip.report_time)}")
    b.align("center").barcode128(slip.barcode).align("left")
    b.rule()
    if m.chars >= 48:
        b.line(
            columns(
                [
                    ("项目", 16, "left"),
                    ("结果", 8, "right"),
                    ("", 2, "left"),
                    ("单位", 8, "left"),
                    ("参考范围", 10, "left"),
                ]
            )
        )
    else:
        b.line(columns([("项目", 10, "left"), ("结果/单位/参考范围", 21, "right")]))
    b.rule()
    for line in slip.lines:
        _lab_line(b, line)
    b.rule()
    b.para("↑ 偏高  ↓ 偏低  * 异常")
    b.bold().para(slip.note_zh).bold(False)
    b.line(f"打印时间 {_fmt(slip.printed_at or datetime.now())}")
    return b.cut().bytes()


def test_page_bytes(
    model: PrinterModel | str | None = None,
    *,
    qr_content: str = "https://example.org/follow/TEST",
    barcode: str = "20240501123456",
    printed_at: datetime | None = None,
) -> bytes:
    """A printer test page: model facts, a column ruler, Chinese text and punctuation,
    sizes, bold, alignment, the QR path of the model and a CODE128 barcode."""
    m = _model(model)
    b = Builder(m).align("center").bold().line("打印机测试页 TEST PAGE").bold(False)
    b.para(f"{m.name} {m.paper_mm}mm {m.dots} dots {m.chars} cols")
    b.para(f"code page {m.code_page} qr {'native' if m.native_qr else 'image'}")
    b.align("left").rule()
    b.line(("1234567890" * 5)[: m.chars])
    b.line(pad("中文列宽", m.chars - 4) + "|end")
    b.line("全角标点：，。；（）【】——")
    b.line("：（）")
    b.para("ASCII !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    b.bold().line("粗体 Bold").bold(False)
    for how in ("left", "center", "right"):
        b.align(how).line(f"{how} 对齐")
    b.align("center")
    b.size(2, 2).line("2×2 大字").size(3, 3).line("A001").size()
    b.qr(qr_content, module=5)
    b.para(qr_content)
    b.barcode128(barcode)
    b.line(f"{_fmt(printed_at or datetime.now())}")
    return b.cut().bytes()
