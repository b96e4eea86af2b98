"""Masked names for public screens and broadcasts: never the full name."""

from __future__ import annotations

import pytest

from queue_server.domain.privacy import mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳小明", "欧阳*明"),  # compound surname kept whole
        ("司马相如", "司马*如"),
        ("诸葛孔明亮", "诸葛**亮"),
        ("王大小明", "王**明"),  # single surname: the middle two hidden
        ("欧阳明", "欧*明"),  # three characters: read as surname 欧 + given name
        ("张", "*"),
        (" 张小三 ", "张*三"),  # surrounding spaces from a form are dropped
        ("John Smith", "J*** S****"),
        ("Li", "L*"),
        ("Mary Ann O'Neil", "M*** A** O*****"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("name", [None, "", "   "])
def test_no_name_gives_no_mask(name: str | None) -> None:
    assert mask_name(name) is None


@pytest.mark.parametrize("name", ["张小三", "欧阳小明", "John Smith", "张三", "Li"])
def test_masked_name_never_is_or_contains_the_full_name(name: str) -> None:
    masked = mask_name(name)
    assert masked is not None
    assert masked != name
    assert name not in masked
    assert "*" in masked
