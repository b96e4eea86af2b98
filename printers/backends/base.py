"""The connection interface every backend implements, and URL query parsing helpers."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from types import TracebackType

from ..errors import PrinterError
from ..models import PrinterModel
from ..status import PrinterState, PrinterStatus, query

log = logging.getLogger(__name__)


class Connection(ABC):
    """A printer reached through one backend. Opens lazily, reopens after a failure.

    ``status()`` never raises: a printer that cannot be reached is ``OFFLINE`` with the
    reason as its code (``printer.not_found``, ``printer.permission``, ``printer.busy`` …).
    ``write()`` raises :class:`PrinterError`.
    """

    scheme = ""

    def __init__(self, url: str, model: PrinterModel) -> None:
        self.url = url
        self.model = model

    @abstractmethod
    def status(self) -> PrinterStatus: ...

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional for backends without a handle
        """Release the device."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} {self.model.name}>"


class StreamConnection(Connection):
    """A bidirectional byte stream (serial, TCP, USB): status by ``DLE EOT`` query."""

    status_timeout = 0.5

    @abstractmethod
    def _open(self) -> None:
        """Open the device if closed; raise PrinterError."""

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Write all of ``data``; raise PrinterError."""

    @abstractmethod
    def _recv_byte(self, timeout: float) -> int | None:
        """One byte from the printer, or None after ``timeout`` seconds; raise PrinterError."""

    def _discard_input(self) -> None:
        """Drop stale bytes before a status query."""

    def status(self) -> PrinterStatus:
        try:
            self._open()
        except PrinterError as exc:
            return PrinterStatus.of(PrinterState.OFFLINE, exc.message, code=exc.code)
        if not self.model.status_query:
            return PrinterStatus.of(PrinterState.UNKNOWN, f"model {self.model.name} has no status")
        try:
            self._discard_input()
            return query(self._send, self._recv_byte, self.status_timeout)
        except PrinterError as exc:
            self.close()
            return PrinterStatus.of(PrinterState.OFFLINE, exc.message, code=exc.code)

    def write(self, data: bytes) -> None:
        self._open()
        try:
            self._send(data)
        except PrinterError:
            self.close()
            raise


def flag(value: str) -> bool:
    """A URL query boolean: 1/true/yes/on or 0/false/no/off."""
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def params(query_string: str, allowed: dict[str, type]) -> dict[str, object]:
    """Parse ``a=1&b=x`` with ``allowed`` converters; unknown or bad values → printer.bad_url."""
    from urllib.parse import parse_qsl

    out: dict[str, object] = {}
    for key, raw in parse_qsl(query_string, keep_blank_values=True):
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise PrinterError("printer.bad_url", f"unknown option {key!r} (known: {known})")
        conv = allowed[key]
        try:
            if conv is bool:
                out[key] = flag(raw)
            elif conv is int:
                out[key] = int(raw, 0)
            else:
                out[key] = conv(raw)
        except ValueError as exc:
            raise PrinterError("printer.bad_url", f"bad value for {key}: {exc}") from None
    return out
