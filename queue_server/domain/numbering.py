"""Ticket numbers: a letter prefix and a daily sequence per service (A001, A002 …)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RANGE_EXHAUSTED, QueueError


@dataclass(frozen=True)
class NumberRange:
    """The daily range of sequence numbers a service may hand out."""

    first: int = 1
    last: int = 999

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.last:
            raise ValueError(f"invalid number range {self.first}..{self.last}")

    @property
    def width(self) -> int:
        return max(3, len(str(self.last)))


def next_sequence(last_issued: int | None, rng: NumberRange, service_id: str = "") -> int:
    """The sequence after ``last_issued`` (None: nothing issued today); refuses past the range."""
    seq = rng.first if last_issued is None else last_issued + 1
    if seq > rng.last:
        raise QueueError(
            RANGE_EXHAUSTED,
            f"service {service_id} has issued every number of today's range "
            f"{rng.first}..{rng.last}",
            service_id=service_id,
        )
    return seq


def format_number(prefix: str, seq: int, rng: NumberRange) -> str:
    """The printed number: prefix plus zero-padded sequence (A023)."""
    return f"{prefix}{seq:0{rng.width}d}"


def spoken_digits(number: str) -> str:
    """A number read digit by digit in Mandarin (A023 -> A零二三), never as a quantity."""
    names = "零一二三四五六七八九"
    return "".join(names[int(c)] if c.isdigit() else c for c in number)
