# ruff: noqa: RUF001 - Chinese full-width punctuation is intended
"""``printers.text``'s fast paths and caches give what the plain per-character rules give."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from printers.text import _clean, char_width, encode_text, text_width, truncate, wrap

# ASCII, Chinese, full-width punctuation, combining marks, controls, separators, astral CJK.
ALPHABET = st.sampled_from(
    list("ab AZ09-:")
    + list("中文号：（）。")
    + ["e\u0301", "\u3000", "\u2028", "\u200b"]
    + ["\t", "\n", "\r", "\x1b", "\x00", "\x7f", "\ud7ff", "𠮷"]
)
TEXTS = st.lists(ALPHABET, max_size=40).map("".join)


def plain_clean(text: str) -> str:
    return "".join(
        " " if ch in "\t\r\n" else ch
        for ch in unicodedata.normalize("NFC", text)
        if ch in "\t\r\n" or unicodedata.category(ch)[0] != "C"
    )


def _visible(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def plain_truncate(text: str, width: int) -> str:
    out, used = "", 0
    for ch in text:
        if used + char_width(ch) > width:
            break
        out += ch
        used += char_width(ch)
    return out


@given(TEXTS)
def test_clean_and_width_follow_the_character_rules(text: str) -> None:
    assert _clean(text) == plain_clean(text)
    assert _clean(text) == _clean(text)  # cached: same answer twice
    assert text_width(text) == sum(char_width(ch) for ch in text)


@given(TEXTS, st.integers(min_value=1, max_value=48))
def test_truncate_and_wrap_fit_and_keep_every_character(text: str, width: int) -> None:
    assert truncate(text, width) == plain_truncate(text, width)
    lines = wrap(text, width)
    # Every line fits, but one glyph wider than the line goes on a line of its own.
    assert all(text_width(line) <= width or len(line) == 1 for line in lines)
    assert _visible("".join(lines)) == _visible(plain_clean(text))  # breaks only drop spaces
    lines.append("changed")  # a caller's list: the cache is not affected
    assert wrap(text, width) == lines[:-1]


@given(TEXTS)
def test_encode_text_drops_controls(text: str) -> None:
    data = encode_text(text)
    assert b"\x1b" not in data and b"\n" not in data and b"\x00" not in data
    assert encode_text(text) is data  # cached


def test_wrap_puts_a_glyph_wider_than_the_line_on_its_own_line() -> None:
    assert wrap("中文", 1) == ["中", "文"]  # used to loop for ever
