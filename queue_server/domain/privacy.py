"""Masking patient names for public screens and broadcast payloads."""

from __future__ import annotations

COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "端木",
        "澹台",
        "轩辕",
        "呼延",
        "南宫",
        "西门",
        "独孤",
        "万俟",
        "闻人",
        "赫连",
        "申屠",
        "百里",
        "东郭",
        "钟离",
        "太史",
    ]
)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧阳*明, John Smith -> J*** S****.

    Everything but the surname and the last character is hidden; a one-character name shows "*".
    """
    if not name:
        return None
    name = name.strip()
    if not name:
        return None
    if all(_is_cjk(c) for c in name):
        if len(name) == 1:
            return "*"
        if len(name) == 2:
            return name[0] + "*"
        surname = name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) >= 4 else name[0]
        return surname + "*" * (len(name) - len(surname) - 1) + name[-1]
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
