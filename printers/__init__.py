"""ESC/POS thermal printers: layouts, Chinese text, backends by URL, status, a virtual printer.

Standalone: imports nothing of ``queue_server``. See docs/printing.md.
"""

from __future__ import annotations

from .backends import open_printer
from .backends.base import Connection
from .errors import PrinterError
from .job import PrintOutcome, print_document
from .models import MODELS, PrinterModel, resolve_model
from .status import PrinterState, PrinterStatus

__all__ = [
    "MODELS",
    "Connection",
    "PrintOutcome",
    "PrinterError",
    "PrinterModel",
    "PrinterState",
    "PrinterStatus",
    "open_printer",
    "print_document",
    "resolve_model",
]
