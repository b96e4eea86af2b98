"""``virtual:///abs/folder`` or ``virtual://relative/folder``: the virtual printer.

Every ``write()`` saves ``<folder>/<YYYYmmdd-HHMMSS>-<seq>.bin`` (the raw ESC/POS) and a
``.png`` of the same stem drawn by :mod:`printers.render`. A text file ``<folder>/STATUS``
holding ``online``, ``offline``, ``cover_open``, ``paper_near_end``, ``paper_end`` or
``cutter_error`` simulates faults (no file = online).
"""

from __future__ import annotations

import errno
import logging
import os
from datetime import datetime
from pathlib import Path

from ..errors import PrinterError
from ..models import PrinterModel
from ..status import REFUSING, PrinterState, PrinterStatus
from .base import Connection

log = logging.getLogger(__name__)


class VirtualConnection(Connection):
    scheme = "virtual"

    def __init__(self, url: str, model: PrinterModel, folder: Path) -> None:
        super().__init__(url, model)
        self.folder = folder
        self.last_files: tuple[Path, Path] | None = None

    def status(self) -> PrinterStatus:
        path = self.folder / "STATUS"
        try:
            word = path.read_text(encoding="utf-8").strip().lower()
        except FileNotFoundError:
            return PrinterStatus.of(PrinterState.ONLINE, "virtual printer")
        except OSError as exc:
            return PrinterStatus.of(PrinterState.UNKNOWN, f"cannot read {path}: {exc.strerror}")
        try:
            state = PrinterState(word or "online")
        except ValueError:
            return PrinterStatus.of(PrinterState.UNKNOWN, f"{path}: unknown state {word!r}")
        if state is PrinterState.UNKNOWN:
            return PrinterStatus.of(state, "virtual printer set to unknown")
        return PrinterStatus.of(state, "virtual printer (STATUS file)")

    def write(self, data: bytes) -> None:
        current = self.status()
        if current.state in REFUSING:
            raise PrinterError(
                current.code, f"virtual printer {self.folder}: {current.state.value}"
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            bin_path = self._claim(datetime.now().strftime("%Y%m%d-%H%M%S"))
            with bin_path.open("wb") as fh:
                fh.write(data)
        except OSError as exc:
            code = (
                "printer.permission"
                if exc.errno in (errno.EACCES, errno.EPERM)
                else "printer.io_error"
            )
            raise PrinterError(code, f"virtual printer {self.folder}: {exc}") from None
        png_path = bin_path.with_suffix(".png")
        from ..render import render_png

        try:
            result = render_png(data, png_path, self.model.dots)
        except Exception:
            # The .bin is the print; a renderer bug must not fail the job.
            log.exception("virtual printer: rendering %s failed", bin_path.name)
        else:
            log.debug("virtual printer: %s (%d cuts)", png_path.name, result.cuts)
        self.last_files = (bin_path, png_path)

    def _claim(self, stamp: str) -> Path:
        """A new, unique ``<stamp>-<seq>.bin`` (O_EXCL, safe across processes)."""
        seq = 1
        while True:
            path = self.folder / f"{stamp}-{seq:03d}.bin"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                return path
            except FileExistsError:
                seq += 1
