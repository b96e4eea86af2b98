# ruff: noqa: RUF002 - Chinese full-width punctuation is intended
"""A small ESC/POS byte builder for our layouts.

Generic commands come from python-escpos 3.1 (its constants, and its ``Dummy`` printer for
the native ``GS ( k`` QR and ``GS v 0`` raster images, which it gets right); text goes
through :mod:`printers.text` (Chinese mode) and CODE128 through our own ``GS k`` with
explicit ``{B``/``{C`` code sets.
"""

from __future__ import annotations

import logging

import qrcode
from escpos import constants as C
from escpos.printer import Dummy

from .models import PrinterModel
from .text import encode_text, text_width, wrap

log = logging.getLogger(__name__)

ALIGN = {"left": 0, "center": 1, "right": 2}
QR_EC = {"L": C.QR_ECLEVEL_L, "M": C.QR_ECLEVEL_M, "Q": C.QR_ECLEVEL_Q, "H": C.QR_ECLEVEL_H}
_QR_LIB_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
CODE128 = 73  # GS k m=73, "format B" (length-prefixed)


class LayoutError(ValueError):
    """Content that cannot be printed (e.g. a barcode with characters CODE128 lacks)."""


def code128_data(value: str) -> bytes:
    """``GS k`` CODE128 data with explicit code sets: ``{C`` digit pairs for even-length
    digit strings (and the even prefix of odd ones), ``{B`` otherwise (``{`` doubled)."""
    if not value:
        raise LayoutError("empty barcode")
    if not all(32 <= ord(ch) <= 126 for ch in value):
        raise LayoutError(f"barcode {value!r}: CODE128 needs printable ASCII")
    if value.isdigit() and len(value) >= 4:
        even = len(value) - len(value) % 2
        data = b"{C" + bytes(int(value[i : i + 2]) for i in range(0, even, 2))
        if even < len(value):
            data += b"{B" + value[even:].encode("ascii")
        return data
    return b"{B" + value.replace("{", "{{").encode("ascii")


def code128_modules(data: bytes) -> int:
    """Width of the symbol in modules: start + symbols + check (11 each) + stop (13)."""
    symbols, i = 0, 2  # the first {X selects the start code
    while i < len(data):
        if data[i] == 0x7B and i + 1 < len(data):
            i += 2  # {B, {C, {{ … each one symbol
        else:
            i += 1
        symbols += 1
    return 11 + 11 * symbols + 11 + 13


class Builder:
    """Accumulates ESC/POS bytes for one document on one printer model."""

    def __init__(self, model: PrinterModel) -> None:
        self.model = model
        self.buf = bytearray(C.HW_INIT)
        self._align = "left"
        self._size = (1, 1)
        self._bold = False

    # -- modes -------------------------------------------------------------------------
    def align(self, how: str) -> Builder:
        if how != self._align:
            self.buf += C.TXT_STYLE["align"][how]
            self._align = how
        return self

    def bold(self, on: bool = True) -> Builder:
        if on != self._bold:
            self.buf += C.TXT_STYLE["bold"][on]
            self._bold = on
        return self

    def size(self, width: int = 1, height: int = 1) -> Builder:
        """Character size via ``GS !`` (1–8 × width and height)."""
        if (width, height) != self._size:
            n = C.TXT_STYLE["width"][width] | C.TXT_STYLE["height"][height]
            self.buf += C.TXT_SIZE + bytes([n])
            self._size = (width, height)
        return self

    @property
    def chars(self) -> int:
        """Columns per line at the current character width."""
        return self.model.chars // self._size[0]

    # -- content -----------------------------------------------------------------------
    def line(self, text: str = "") -> Builder:
        """One line of text (Chinese mode where needed) and LF."""
        self.buf += encode_text(text, self.model.code_page) + C.CTL_LF
        return self

    def para(self, text: str) -> Builder:
        """Text wrapped to the current line width (CJK counted double)."""
        for part in wrap(text, self.chars):
            self.line(part)
        return self

    def rule(self, ch: str = "-") -> Builder:
        return self.line(ch * (self.chars // text_width(ch)))

    def feed(self, lines: int = 1) -> Builder:
        self.buf += b"\x1bd" + bytes([lines])  # ESC d n
        return self

    def qr(self, content: str, module: int = 6, ec: str = "M") -> Builder:
        """A QR code: native ``GS ( k`` where the model has it, else a ``GS v 0`` image."""
        # A profile with a known paper width: python-escpos print()s a warning otherwise.
        dummy = Dummy(profile="TM-T20II")
        if self.model.native_qr:
            dummy.qr(content, ec=QR_EC[ec], size=module, native=True)
            self.buf += dummy.output
            return self
        code = qrcode.QRCode(box_size=module, border=1, error_correction=_QR_LIB_EC[ec])
        code.add_data(content)
        code.make(fit=True)
        image = code.make_image().get_image().convert("1")
        if image.width > self.model.dots:
            raise LayoutError(f"QR code {image.width} dots wide, paper has {self.model.dots}")
        dummy.image(image, impl="bitImageRaster", center=False)
        self.buf += dummy.output
        return self

    def barcode128(self, value: str, height: int = 80, hri: bool = True) -> Builder:
        """Hardware CODE128 (``GS k 73``) with the widest module that fits the paper."""
        data = code128_data(value)
        if len(data) > 255:
            raise LayoutError("barcode too long")
        modules = code128_modules(data) + 20  # + quiet zones
        width = next((w for w in (3, 2) if modules * w <= self.model.dots), None)
        if width is None:
            raise LayoutError(f"barcode {value!r} does not fit on {self.model.paper_mm} mm paper")
        self.buf += C.BARCODE_HEIGHT + bytes([height]) + C.BARCODE_WIDTH + bytes([width])
        self.buf += (C.BARCODE_TXT_BLW if hri else C.BARCODE_TXT_OFF) + C.BARCODE_FONT_A
        self.buf += b"\x1dk" + bytes([CODE128, len(data)]) + data
        return self

    def cut(self) -> Builder:
        """Feed past the cutter and cut (partial), or just feed on printers without one."""
        self.feed(4)
        if self.model.cutter:
            self.buf += C.PAPER_PART_CUT
        return self

    def bytes(self) -> bytes:
        return bytes(self.buf)
