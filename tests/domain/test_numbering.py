"""Ticket numbers: prefix + zero-padded daily sequence, range exhaustion, digits read one by one."""

from __future__ import annotations

import pytest

from queue_server.domain.errors import RANGE_EXHAUSTED, QueueError
from queue_server.domain.numbering import NumberRange, format_number, next_sequence, spoken_digits


@pytest.mark.parametrize(
    ("prefix", "seq", "rng", "expected"),
    [
        ("A", 1, NumberRange(), "A001"),
        ("A", 23, NumberRange(), "A023"),
        ("A", 999, NumberRange(), "A999"),
        ("C", 7, NumberRange(1, 60), "C007"),  # narrow ranges still print three digits
        ("G", 0, NumberRange(0, 9), "G000"),
        ("F", 1234, NumberRange(1, 99999), "F01234"),  # width follows the range's last number
        ("AB", 42, NumberRange(1, 1000), "AB0042"),
    ],
)
def test_format_number(prefix: str, seq: int, rng: NumberRange, expected: str) -> None:
    assert format_number(prefix, seq, rng) == expected


@pytest.mark.parametrize(("last", "width"), [(9, 3), (999, 3), (1000, 4), (99999, 5)])
def test_width(last: int, width: int) -> None:
    assert NumberRange(1, last).width == width


@pytest.mark.parametrize(("first", "last"), [(5, 4), (-1, 10), (-3, -1)])
def test_invalid_range_is_refused(first: int, last: int) -> None:
    with pytest.raises(ValueError):
        NumberRange(first, last)


def test_next_sequence_starts_at_the_first_number_of_the_range() -> None:
    assert next_sequence(None, NumberRange()) == 1
    assert next_sequence(None, NumberRange(100, 199)) == 100
    assert next_sequence(None, NumberRange(0, 5)) == 0


def test_next_sequence_counts_up() -> None:
    rng = NumberRange(1, 3)
    seqs = []
    last = None
    for _ in range(3):
        last = next_sequence(last, rng)
        seqs.append(last)
    assert seqs == [1, 2, 3]


def test_next_sequence_refuses_past_the_range() -> None:
    rng = NumberRange(1, 60)
    assert next_sequence(59, rng, "im1") == 60
    with pytest.raises(QueueError) as info:
        next_sequence(60, rng, "im1")
    assert info.value.code == RANGE_EXHAUSTED
    assert info.value.details == {"service_id": "im1"}
    assert "im1" in info.value.message and "1..60" in info.value.message


def test_single_number_range() -> None:
    rng = NumberRange(7, 7)
    assert next_sequence(None, rng) == 7
    with pytest.raises(QueueError) as info:
        next_sequence(7, rng)
    assert info.value.code == RANGE_EXHAUSTED


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        ("A023", "A零二三"),
        ("B100", "B一零零"),
        ("C007", "C零零七"),
        ("AB4567", "AB四五六七"),
        ("G0899", "G零八九九"),
    ],
)
def test_spoken_digits_reads_digit_by_digit(number: str, spoken: str) -> None:
    # 023 is read 零二三, never as the quantity 二十三.
    assert spoken_digits(number) == spoken
