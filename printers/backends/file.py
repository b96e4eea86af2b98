"""``file:///dev/usb/lp0`` — write-only: a kernel printer device or a plain file."""

from __future__ import annotations

import errno
import logging
import os
import select
import time

from ..errors import PrinterError
from ..models import PrinterModel
from ..status import PrinterState, PrinterStatus
from .base import Connection, params

log = logging.getLogger(__name__)

OPTIONS: dict[str, type] = {"write_timeout": float}
CHUNK = 4096


class FileConnection(Connection):
    """Appends to a file or a device node. Nothing can be read back, so ``status()`` is
    ``UNKNOWN`` for a writable path (printing still goes ahead) and ``OFFLINE`` with
    ``printer.not_found``/``printer.permission`` when the path is missing or read-only.
    Writes are non-blocking with a deadline (default 10 s), so a stalled device is a
    ``printer.timeout``, never a hang."""

    scheme = "file"

    def __init__(self, url: str, model: PrinterModel, path: str, query_string: str) -> None:
        super().__init__(url, model)
        if not path:
            raise PrinterError("printer.bad_url", "file:// needs a path, e.g. file:///dev/usb/lp0")
        self.path = path
        self.write_timeout = float(params(query_string, OPTIONS).get("write_timeout", 10.0))  # type: ignore[arg-type]

    def status(self) -> PrinterStatus:
        if os.path.exists(self.path):
            if not os.access(self.path, os.W_OK):
                return PrinterStatus.of(
                    PrinterState.OFFLINE, f"{self.path} is not writable", code="printer.permission"
                )
        elif not os.access(os.path.dirname(self.path) or ".", os.W_OK) or self.path.startswith(
            "/dev/"
        ):
            return PrinterStatus.of(
                PrinterState.OFFLINE, f"{self.path} not found", code="printer.not_found"
            )
        return PrinterStatus.of(
            PrinterState.UNKNOWN, "file:// cannot read status back; path is writable"
        )

    def write(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK
        if not self.path.startswith("/dev/"):
            flags |= os.O_CREAT
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            raise PrinterError("printer.not_found", f"{self.path} not found") from None
        except PermissionError:
            raise PrinterError(
                "printer.permission",
                f"no permission to write {self.path} (add the user to the 'lp' group)",
            ) from None
        except OSError as exc:
            code = "printer.busy" if exc.errno == errno.EBUSY else "printer.io_error"
            raise PrinterError(code, f"cannot open {self.path}: {exc.strerror}") from None
        try:
            self._write_all(fd, data)
        finally:
            os.close(fd)

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise PrinterError(
                    "printer.timeout",
                    f"{self.path}: write stalled for {self.write_timeout} s "
                    f"({len(data) - len(view)} of {len(data)} bytes sent)",
                )
            try:
                n = os.write(fd, view[:CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                code = "printer.not_found" if exc.errno == errno.ENODEV else "printer.io_error"
                raise PrinterError(code, f"{self.path}: write failed: {exc.strerror}") from None
            view = view[n:]
