"""The one exception the printers package raises at its boundary."""

from __future__ import annotations

#: Stable error codes (docs/printing.md), plus ``printer.bad_url`` and ``printer.unknown_model``.
CODES = frozenset(
    {
        "printer.offline",
        "printer.paper_end",
        "printer.cover_open",
        "printer.cutter_error",
        "printer.timeout",
        "printer.permission",
        "printer.busy",
        "printer.not_found",
        "printer.io_error",
        "printer.unknown_status",
        "printer.bad_url",
        "printer.unknown_model",
    }
)


class PrinterError(Exception):
    """A printer failure with a stable ``code`` (``printer.*``) and a readable message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
