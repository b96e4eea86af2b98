"""The site file's optional ``[lab]`` section: second check, attempt limits, ready-time table.

Parsed by ``queue_server.site.parse_site`` through its ``_Reader`` so that every mistake is
reported with the file line and field, like the rest of the site file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..site import _Reader

SECOND_CHECKS = ("birth_date", "phone_last4")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class LabTest:
    """One row of the 取报告时间 table: a test (panel) code and how long until it is reported."""

    code: str
    name_zh: str
    name_en: str
    ready_minutes: int


@dataclass(frozen=True)
class LabSettings:
    second_check: str = "birth_date"  # birth_date | phone_last4
    token_attempts: int = 5  # failed second checks per receipt token before it locks
    kiosk_attempts: int = 20  # failed lookups per kiosk before the kiosk locks
    attempt_window_minutes: int = 15
    lockout_minutes: int = 15
    default_ready_minutes: int = 120
    reprint_counter_zh: str = "检验科窗口"
    reprint_counter_en: str = "the laboratory counter"
    webhook_url: str | None = None
    webhook_max_attempts: int = 10
    mllp_host: str = "0.0.0.0"
    mllp_port: int | None = None
    tests: Mapping[str, LabTest] = field(default_factory=dict)

    def ready_minutes(self, code: str | None) -> int:
        test = self.tests.get(code or "")
        return test.ready_minutes if test else self.default_ready_minutes


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _url(v: str) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", v) else "must be an http:// or https:// URL"


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a TCP port 1-65535"


def parse_lab(r: _Reader, raw: Mapping[str, Any]) -> LabSettings:
    """The ``[lab]`` table (and its ``[[lab.tests]]``)."""
    path: list[str | int] = ["lab"]
    tests: dict[str, LabTest] = {}
    for i, t in enumerate(r.get(raw, path, "tests", list, []) or []):
        p: list[str | int] = ["lab", "tests", i]
        if not isinstance(t, dict):
            r.fail(p, "must be a table ([[lab.tests]])")
            continue
        code = r.get(
            t,
            p,
            "code",
            str,
            check=lambda v: None if _CODE.match(v) else "must be 1-32 letters, digits, _ . -",
        )
        if code in tests:
            r.fail([*p, "code"], f"duplicate test code {code!r}")
        test = LabTest(
            code=code or f"test{i}",
            name_zh=r.get(t, p, "name_zh", str) or "",
            name_en=r.get(t, p, "name_en", str, ""),
            ready_minutes=r.get(t, p, "ready_minutes", int, check=_positive) or 1,
        )
        tests[test.code] = test
    return LabSettings(
        second_check=r.get(
            raw,
            path,
            "second_check",
            str,
            "birth_date",
            lambda v: None if v in SECOND_CHECKS else "must be birth_date or phone_last4",
        ),
        token_attempts=r.get(raw, path, "token_attempts", int, 5, _positive),
        kiosk_attempts=r.get(raw, path, "kiosk_attempts", int, 20, _positive),
        attempt_window_minutes=r.get(raw, path, "attempt_window_minutes", int, 15, _positive),
        lockout_minutes=r.get(raw, path, "lockout_minutes", int, 15, _positive),
        default_ready_minutes=r.get(raw, path, "default_ready_minutes", int, 120, _positive),
        reprint_counter_zh=r.get(raw, path, "reprint_counter_zh", str, "检验科窗口"),
        reprint_counter_en=r.get(raw, path, "reprint_counter_en", str, "the laboratory counter"),
        webhook_url=r.get(raw, path, "webhook_url", str, None, _url),
        webhook_max_attempts=r.get(raw, path, "webhook_max_attempts", int, 10, _positive),
        mllp_host=r.get(raw, path, "mllp_host", str, "0.0.0.0"),
        mllp_port=r.get(raw, path, "mllp_port", int, None, _port),
        tests=tests,
    )
