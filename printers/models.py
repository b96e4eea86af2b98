# ruff: noqa: RUF002 - Chinese full-width punctuation is intended
"""Printer models: paper width, print width in dots and characters, code page, capabilities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PrinterModel:
    """What a layout and a backend need to know about a printer.

    ``dots`` is the printable width at 203 dpi, ``chars`` the Font A (12×24) characters per
    line; a CJK character takes two of them. ``code_page`` is the Chinese encoding of the
    printer's resident font (``gb18030`` or ``gbk``). ``native_qr``: the printer understands
    ``GS ( k``; otherwise the QR is sent as a raster image. ``status_query``: it answers
    ``DLE EOT``.
    """

    name: str
    paper_mm: int
    dots: int
    chars: int
    code_page: str = "gb18030"
    native_qr: bool = True
    cutter: bool = True
    status_query: bool = True


MODELS: dict[str, PrinterModel] = {
    m.name: m
    for m in (
        PrinterModel("generic-80", 80, 576, 48),
        PrinterModel("generic-58", 58, 384, 32, cutter=False),
        PrinterModel("generic-80-no-qr", 80, 576, 48, native_qr=False),
        PrinterModel("generic-58-no-qr", 58, 384, 32, native_qr=False, cutter=False),
        PrinterModel("generic-80-gbk", 80, 576, 48, code_page="gbk"),
    )
}


def resolve_model(name: str | None, paper_mm: int | None = None) -> PrinterModel:
    """The model called ``name``; ``generic`` (the site file default) picks by paper width.

    Raises ``KeyError`` with the known names for an unknown model.
    """
    if not name or name == "generic":
        return MODELS["generic-58" if paper_mm == 58 else "generic-80"]
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise KeyError(f"unknown printer model {name!r} (known: {known})") from None
