# ruff: noqa: RUF002 - Chinese full-width punctuation is intended
"""Chinese text in the printer's resident GB18030/GBK font, and column layout.

python-escpos 3.1 never sends ``FS &`` and picks a single-byte code page per string, which
turns punctuation-only strings such as "：（）" into garbage. Here any text with a
non-ASCII character is encoded in the model's Chinese code page and wrapped in
``FS &`` (enter Chinese character mode) … ``FS .`` (leave it). In that mode every
multi-byte character prints as one double-width (24×24) glyph, so layout counts it as two
columns.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

FS_CHINESE_ON = b"\x1c&"
FS_CHINESE_OFF = b"\x1c."


def char_width(ch: str) -> int:
    """Columns a character takes: 1 for ASCII, 2 for anything printed by the Chinese font."""
    return 1 if ord(ch) < 0x80 else 2


def text_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return 2 * len(text) - sum(map(str.isascii, text))


# A slip repeats the same texts (hospital, service, hints) on every print: the per-character
# work below is done once per text (bounded caches; the functions are pure).
@lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    """Drop control characters (they would be taken as commands) and normalise width forms."""
    text = unicodedata.normalize("NFC", text)
    if text.isprintable():  # no control character (nor tab or newline) in it
        return text
    return "".join(
        " " if ch in "\t\r\n" else ch
        for ch in text
        if ch in "\t\r\n" or unicodedata.category(ch)[0] != "C"
    )


@lru_cache(maxsize=4096)
def encode_text(text: str, code_page: str = "gb18030") -> bytes:
    """Bytes that print ``text``: ASCII as is; otherwise the whole run in Chinese mode.

    Characters the code page lacks (e.g. a 4-byte GB18030 character on a GBK printer)
    become ``?``.
    """
    text = _clean(text)
    if text.isascii():
        return text.encode("ascii")
    return FS_CHINESE_ON + text.encode(code_page, errors="replace") + FS_CHINESE_OFF


def truncate(text: str, width: int) -> str:
    """The longest prefix of ``text`` that fits in ``width`` columns."""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def pad(text: str, width: int, align: str = "left") -> str:
    """``text`` truncated/padded with spaces to exactly ``width`` columns."""
    text = truncate(_clean(text), width)
    room = width - text_width(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


def wrap(text: str, width: int) -> list[str]:
    """Split ``text`` into lines of at most ``width`` columns (at spaces where possible)."""
    return list(_wrapped(text, width))


@lru_cache(maxsize=4096)
def _wrapped(text: str, width: int) -> tuple[str, ...]:
    text = _clean(text)
    lines: list[str] = []
    while text_width(text) > width:
        head = truncate(text, width) or text[0]  # a double-width glyph on a 1-column line
        cut = head.rfind(" ")
        if cut > 0 and head.isascii():
            head = head[:cut]
        lines.append(head.rstrip())
        text = text[len(head) :].lstrip(" ")
    if text or not lines:
        lines.append(text)
    return tuple(lines)


def columns(cells: list[tuple[str, int, str]], gap: int = 1) -> str:
    """One line of fixed-width columns: ``(text, width, align)`` each, ``gap`` spaces between."""
    return (" " * gap).join(pad(text, width, align) for text, width, align in cells).rstrip()
