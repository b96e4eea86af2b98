# ruff: noqa: RUF002 - Chinese full-width punctuation is intended
"""Our own ESC/POS → PNG renderer (the virtual printer).

No maintained library interprets ESC/POS into an image, so this module does, for the
commands this package emits and the common neighbours: text (ASCII, the active single-byte
code page, and GB18030 double-byte/four-byte characters in ``FS &`` Chinese mode), bold,
underline, inversion, ``GS !``/``ESC !`` sizes, alignment, line spacing and feeds, native QR
(``GS ( k``, drawn with the ``qrcode`` package so it decodes), hardware CODE128 (``GS k``
with ``{A``/``{B``/``{C`` code sets, drawn bar by bar), ``GS v 0`` raster images and cuts.
Anything else is logged once and skipped.

The page is ``width`` dots wide (576 for 80 mm, 384 for 58 mm) with a white margin; a Font A
character is 12×24 dots, a Chinese one 24×24, as on a 203 dpi printer.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import qrcode
from barcode.charsets import code128 as c128
from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger(__name__)

CJK_FONT = Path(
    os.environ.get("PRINTERS_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
)
MONO_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
MAX_HEIGHT = 30_000  # dots; a runaway feed stops here
MARGIN = 16
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 16: "cp1252", 17: "cp866", 19: "cp858"}
QR_EC = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
         50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}  # fmt: skip


@lru_cache(maxsize=4)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        log.warning(
            "font %s not found: Chinese text renders as boxes (install fonts-wqy-microhei "
            "or set PRINTERS_CJK_FONT)",
            path,
        )
        return ImageFont.load_default(size=size)


def _ascii_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return _font(MONO_FONT if MONO_FONT.exists() else CJK_FONT, size)


@lru_cache(maxsize=4096)
def _glyph(ch: str, wide: bool, font_b: bool, bold: bool) -> Image.Image:
    """One character cell at size 1×1, black on white ("L")."""
    if wide:
        w, h, font, y = 24, 24, _font(CJK_FONT, 22), 12
        anchor = "mm"
    else:
        w, h = (9, 17) if font_b else (12, 24)
        font, y, anchor = _ascii_font(15 if font_b else 20), (13 if font_b else 19), "ms"
    cell = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(cell)
    for dx in (0, 1) if bold else (0,):
        draw.text((w / 2 + dx, y), ch, fill=0, font=font, anchor=anchor)
    return cell


@dataclass
class _Style:
    align: int = 0
    bold: bool = False
    underline: int = 0
    invert: bool = False
    wide: int = 1
    high: int = 1
    font_b: bool = False
    chinese: bool = False
    spacing: int = 30
    code_page: int = 0
    bc_height: int = 162
    bc_module: int = 3
    bc_hri: int = 0
    bc_hri_font_b: bool = False
    qr_size: int = 3
    qr_ec: int = 48
    qr_data: bytes = b""


@dataclass
class Rendered:
    """The rendered page and the commands that were skipped."""

    image: Image.Image
    skipped: list[str] = field(default_factory=list)
    cuts: int = 0
    #: Lines longer than the paper that the printer would wrap (a layout bug for us).
    wrapped: int = 0


class _Renderer:
    def __init__(self, data: bytes, width: int) -> None:
        self.data = data
        self.width = width
        self.i = 0
        self.s = _Style()
        self.blocks: list[Image.Image] = []
        self.height = 0
        self.line: list[tuple[Image.Image, int]] = []  # (cell image, line x width)
        self.line_w = 0
        self.line_align = 0
        self.skipped: list[str] = []
        self.cuts = 0
        self.wrapped = 0

    # -- output ----------------------------------------------------------------------
    def _block(self, img: Image.Image, align: int | None = None) -> None:
        if self.height + img.height > MAX_HEIGHT:
            raise _Stop
        row = Image.new("L", (self.width, img.height), 255)
        room = max(0, self.width - img.width)
        x = {0: 0, 1: room // 2, 2: room}[self.s.align if align is None else align]
        row.paste(img, (x, 0))
        self.blocks.append(row)
        self.height += img.height

    def _feed(self, dots: int) -> None:
        if dots > 0:
            self._block(Image.new("L", (self.width, dots), 255))

    def _flush(self, forced: bool = True) -> None:
        """Print the line buffer (LF): an empty buffer just feeds one line."""
        if not self.line:
            if forced:
                self._feed(self.s.spacing)
            return
        height = max(cell.height for cell, _ in self.line)
        img = Image.new("L", (self.line_w, height), 255)
        x = 0
        for cell, w in self.line:
            img.paste(cell, (x, height - cell.height))
            x += w
        advance = max(self.s.spacing, height)
        row = Image.new("L", (self.line_w, advance), 255)
        row.paste(img, (0, (advance - height) // 2))
        self._block(row, self.line_align)
        self.line, self.line_w = [], 0

    def _char(self, ch: str, wide: bool) -> None:
        cell = _glyph(ch, wide, self.s.font_b and not wide, self.s.bold)
        if self.s.wide > 1 or self.s.high > 1:
            cell = cell.resize((cell.width * self.s.wide, cell.height * self.s.high), Image.NEAREST)
        if self.s.underline:
            cell = cell.copy()
            ImageDraw.Draw(cell).rectangle(
                (0, cell.height - self.s.underline * self.s.high, cell.width, cell.height), fill=0
            )
        if self.s.invert:
            cell = ImageOps.invert(cell)
        if self.line_w + cell.width > self.width:
            self.wrapped += 1
            self._flush()
        if not self.line:
            self.line_align = self.s.align
        self.line.append((cell, cell.width))
        self.line_w += cell.width

    # -- parsing helpers ---------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        chunk = self.data[self.i : self.i + n]
        self.i += n
        return chunk

    def _arg(self) -> int:
        b = self._take(1)
        return b[0] if b else 0

    def _skip(self, what: str, n: int = 0) -> None:
        self.i += n
        if what not in self.skipped:
            log.info("ESC/POS renderer: %s not rendered, skipped", what)
            self.skipped.append(what)

    # -- main loop ---------------------------------------------------------------------
    def run(self) -> Rendered:
        try:
            while self.i < len(self.data):
                b = self.data[self.i]
                self.i += 1
                if b == 0x0A:
                    self._flush()
                elif b == 0x1B:
                    self._esc(self._arg())
                elif b == 0x1D:
                    self._gs(self._arg())
                elif b == 0x1C:
                    self._fs(self._arg())
                elif b == 0x10:
                    self._dle(self._arg())
                elif b == 0x09:
                    for _ in range(8 - (self.line_w // 12) % 8):
                        self._char(" ", False)
                elif b < 0x20 or b == 0x7F:
                    if b not in (0x0D, 0x00):
                        self._skip(f"control 0x{b:02x}")
                elif b < 0x80:
                    self._char(chr(b), False)
                elif self.s.chinese:
                    self._gb(b)
                else:
                    enc = CODE_PAGES.get(self.s.code_page, "cp437")
                    self._char(bytes([b]).decode(enc, errors="replace"), False)
            self._flush(forced=False)
        except _Stop:
            log.warning("ESC/POS renderer: page longer than %d dots, truncated", MAX_HEIGHT)
        page = Image.new("L", (self.width + 2 * MARGIN, self.height + 2 * MARGIN), 255)
        y = MARGIN
        for block in self.blocks:
            page.paste(block, (MARGIN, y))
            y += block.height
        return Rendered(page, self.skipped, self.cuts, self.wrapped)

    def _gb(self, first: int) -> None:
        """A GB18030 character: 2 bytes, or 4 when the second byte is a digit."""
        if first == 0x80 or first == 0xFF:
            self._char("?", True)
            return
        second = self.data[self.i : self.i + 1]
        n = 3 if second and 0x30 <= second[0] <= 0x39 else 1
        raw = bytes([first]) + self._take(n)
        self._char(raw.decode("gb18030", errors="replace"), True)

    def _esc(self, c: int) -> None:
        s = self.s
        if c == 0x40:  # ESC @
            self.line, self.line_w = [], 0
            self.s = _Style()
        elif c == 0x61:  # ESC a
            s.align = {0: 0, 1: 1, 2: 2, 48: 0, 49: 1, 50: 2}.get(self._arg(), 0)
        elif c in (0x45, 0x47):  # ESC E / ESC G
            s.bold = bool(self._arg() & 1)
        elif c == 0x2D:  # ESC -
            s.underline = {0: 0, 1: 1, 2: 2, 48: 0, 49: 1, 50: 2}.get(self._arg(), 0)
        elif c == 0x21:  # ESC ! n
            n = self._arg()
            s.font_b, s.bold = bool(n & 1), bool(n & 8)
            s.high, s.wide = (2 if n & 16 else 1), (2 if n & 32 else 1)
            s.underline = 1 if n & 128 else 0
        elif c == 0x4D:  # ESC M
            s.font_b = self._arg() in (1, 49)
        elif c == 0x64:  # ESC d n
            n = self._arg()
            self._flush(forced=False)
            self._feed(n * s.spacing)
        elif c == 0x4A:  # ESC J n
            n = self._arg()
            self._flush(forced=False)
            self._feed(n)
        elif c == 0x32:
            s.spacing = 30
        elif c == 0x33:
            s.spacing = self._arg()
        elif c == 0x74:
            s.code_page = self._arg()
        elif c in (0x52, 0x20, 0x3D, 0x7B, 0x56, 0x72, 0x55, 0x63):
            self._skip(f"ESC {chr(c)}", 2 if c == 0x63 else 1)
        elif c == 0x70:
            self._skip("ESC p (cash drawer)", 3)
        elif c in (0x24, 0x5C):
            self._skip(f"ESC {chr(c)} (position)", 2)
        elif c == 0x44:  # tab stops, NUL-terminated
            end = self.data.find(b"\x00", self.i)
            self._skip("ESC D (tabs)", (end - self.i + 1) if end >= 0 else len(self.data))
        else:
            self._skip(f"ESC 0x{c:02x}")

    def _gs(self, c: int) -> None:
        s = self.s
        if c == 0x21:  # GS ! n
            n = self._arg()
            s.wide, s.high = (n >> 4 & 7) + 1, (n & 7) + 1
        elif c == 0x42:
            s.invert = bool(self._arg() & 1)
        elif c == 0x56:  # GS V m [n]
            m = self._arg()
            self._flush(forced=False)
            if m in (65, 66, 97, 98, 103, 104):
                self._feed(self._arg())
            self._cut()
        elif c == 0x68:
            s.bc_height = self._arg() or 1
        elif c == 0x77:
            s.bc_module = max(1, min(6, self._arg()))
        elif c == 0x48:
            n = self._arg()
            s.bc_hri = n - 48 if n >= 48 else n
        elif c == 0x66:
            s.bc_hri_font_b = self._arg() in (1, 49)
        elif c == 0x6B:
            self._barcode()
        elif c == 0x28:  # GS ( X pL pH …
            fn = self._arg()
            size = self._arg() + 256 * self._arg()
            if fn == 0x6B:
                self._code2d(self._take(size))
            else:
                self._skip(f"GS ( {chr(fn)}", size)
        elif c == 0x76 and self.data[self.i : self.i + 1] == b"0":
            self.i += 1
            self._raster()
        elif c in (0x4C, 0x57, 0x50, 0x24, 0x5C):
            self._skip(f"GS {chr(c)}", 2)
        elif c in (0x61, 0x62, 0x49, 0x72, 0x7C, 0x45):
            self._skip(f"GS {chr(c)}", 1)
        else:
            self._skip(f"GS 0x{c:02x}")

    def _fs(self, c: int) -> None:
        if c == 0x26:
            self.s.chinese = True
        elif c == 0x2E:
            self.s.chinese = False
        elif c in (0x21, 0x43, 0x2D, 0x57):
            self._skip(f"FS {chr(c)}", 1)
        elif c in (0x53, 0x70):
            self._skip(f"FS {chr(c)}", 2)
        else:
            self._skip(f"FS 0x{c:02x}")

    def _dle(self, c: int) -> None:
        if c in (0x04, 0x05):
            self.i += 1  # real-time status / request: no ink
        elif c == 0x14:
            self._skip("DLE DC4", 3)
        else:
            self._skip(f"DLE 0x{c:02x}")

    # -- graphics ----------------------------------------------------------------------
    def _cut(self) -> None:
        self.cuts += 1
        row = Image.new("L", (self.width, 24), 255)
        draw = ImageDraw.Draw(row)
        for x in range(0, self.width, 12):
            draw.line((x, 12, x + 6, 12), fill=0)
        self._block(row, 0)

    def _raster(self) -> None:
        m = self._arg()
        xb = self._arg() + 256 * self._arg()
        rows = self._arg() + 256 * self._arg()
        raw = self._take(xb * rows)
        if xb == 0 or rows == 0 or len(raw) < xb * rows:
            self._skip("truncated GS v 0 image")
            return
        self._flush(forced=False)
        img = ImageOps.invert(Image.frombytes("1", (xb * 8, rows), raw).convert("L"))
        if m & 1 or m & 2:
            img = img.resize((img.width * (2 if m & 1 else 1), img.height * (2 if m & 2 else 1)))
        self._block(img)

    def _code2d(self, body: bytes) -> None:
        if len(body) < 2:
            return
        cn, fn, rest = body[0], body[1], body[2:]
        if cn != 0x31:
            self._skip(f"2D symbol type {cn}")
            return
        if fn == 0x43 and rest:
            self.s.qr_size = max(1, min(16, rest[0]))
        elif fn == 0x45 and rest:
            self.s.qr_ec = rest[0]
        elif fn == 0x50:
            self.s.qr_data = rest[1:]
        elif fn == 0x51 and self.s.qr_data:
            self._flush(forced=False)
            qr = qrcode.QRCode(
                box_size=self.s.qr_size,
                border=0,
                error_correction=QR_EC.get(self.s.qr_ec, qrcode.constants.ERROR_CORRECT_L),
            )
            qr.add_data(self.s.qr_data)
            qr.make(fit=True)
            self._block(qr.make_image().get_image().convert("L"))

    def _barcode(self) -> None:
        m = self._arg()
        if m <= 6:
            end = self.data.find(b"\x00", self.i)
            end = len(self.data) if end < 0 else end
            self._skip(f"barcode type {m}", end - self.i + 1)
            return
        data = self._take(self._arg())
        if m != 73:
            self._skip(f"barcode type {m}")
            return
        try:
            values, text = code128_values(data)
        except ValueError as exc:
            self._skip(f"bad CODE128 data ({exc})")
            return
        self._flush(forced=False)
        self._draw_barcode(values, text)

    def _draw_barcode(self, values: list[int], text: str) -> None:
        s = self.s
        pattern = "".join(c128.CODES[v] for v in values) + c128.STOP + "11"
        mod = s.bc_module
        quiet = 10 * mod
        img = Image.new("L", (len(pattern) * mod + 2 * quiet, s.bc_height), 255)
        draw = ImageDraw.Draw(img)
        for k, bit in enumerate(pattern):
            if bit == "1":
                x = quiet + k * mod
                draw.rectangle((x, 0, x + mod - 1, s.bc_height - 1), fill=0)
        hri = None
        if s.bc_hri:
            hri = Image.new("L", (img.width, 17 if s.bc_hri_font_b else 24), 255)
            cw = 9 if s.bc_hri_font_b else 12
            x0 = max(0, (hri.width - cw * len(text)) // 2)
            for k, ch in enumerate(text):
                hri.paste(_glyph(ch, False, s.bc_hri_font_b, False), (x0 + k * cw, 0))
        if hri is not None and s.bc_hri in (1, 3):
            self._block(hri)
        self._block(img)
        if hri is not None and s.bc_hri in (2, 3):
            self._block(hri)


class _Stop(Exception):
    pass


def code128_values(data: bytes) -> tuple[list[int], str]:
    """Symbol values (start … check) and the human-readable text of ``GS k 73`` data."""
    if len(data) < 2 or data[0] != 0x7B or data[1] not in b"ABC":
        raise ValueError("CODE128 data must start with {A, {B or {C")
    cset = chr(data[1])
    values = [c128.START_CODES[cset]]
    text = []
    i = 2
    while i < len(data):
        b = data[i]
        if b == 0x7B and i + 1 < len(data) and data[i + 1] != 0x7B:
            code = chr(data[i + 1])
            i += 2
            if code in "ABC":
                values.append({"A": 101, "B": 100, "C": 99}[code])
                cset = code
            elif code == "S":
                values.append(98)
            elif code in "123":
                values.append({"1": 102, "2": 97, "3": 96}[code])
            elif code == "4":
                values.append(101 if cset == "B" else 100)
            else:
                raise ValueError(f"unknown code set switch {{{code}")
            continue
        if b == 0x7B:
            i += 1  # "{{" is a literal "{"
        if cset == "C":
            if b > 99:
                raise ValueError(f"code set C value {b} > 99")
            values.append(b)
            text.append(f"{b:02d}")
        else:
            values.append(b - 32 if b >= 32 else b + 64)
            text.append(chr(b))
        i += 1
    check = (values[0] + sum(k * v for k, v in enumerate(values[1:], start=1))) % 103
    return [*values, check], "".join(text)


def render(data: bytes, width: int = 576) -> Rendered:
    """Render ESC/POS ``data`` as printed on paper ``width`` dots wide."""
    return _Renderer(data, width).run()


def render_png(data: bytes, path: Path, width: int = 576) -> Rendered:
    """Render ``data`` and save it as a PNG at ``path`` (written atomically)."""
    result = render(data, width)
    tmp = path.with_name(path.name + ".tmp")
    result.image.save(tmp, format="PNG")
    os.replace(tmp, path)
    return result
