"""Printer backends, chosen by URL scheme (see :func:`open_printer`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import PrinterError
from ..models import MODELS, PrinterModel
from .base import Connection

SCHEMES = ("serial", "usb", "tcp", "file", "virtual")


def open_printer(
    url: str,
    model: PrinterModel | str | None = None,
    base_dir: Path | str | None = None,
) -> Connection:
    """A connection for ``url``. Devices are opened lazily (``status()`` reports an
    unreachable printer; ``write()`` raises). A malformed URL raises ``printer.bad_url``.

    ``serial:///dev/ttyUSB0?baudrate=38400&rtscts=1`` · ``usb://04b8:0e28?interface=0`` ·
    ``tcp://10.0.0.5:9100`` · ``file:///dev/usb/lp0`` · ``virtual:///abs/folder`` or
    ``virtual://relative/folder`` (relative to ``base_dir``, default the working folder).
    """
    if isinstance(model, str):
        if model not in MODELS:
            raise PrinterError(
                "printer.unknown_model",
                f"unknown printer model {model!r} (known: {', '.join(sorted(MODELS))})",
            )
        model = MODELS[model]
    model = model or MODELS["generic-80"]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "serial":
        from .serial_port import SerialConnection

        port = unquote(parts.netloc + parts.path)
        if not port:
            raise PrinterError(
                "printer.bad_url", "serial:// needs a port, e.g. serial:///dev/ttyUSB0"
            )
        return SerialConnection(url, model, port, parts.query)
    if scheme == "usb":
        from .usb_port import UsbConnection

        return UsbConnection(url, model, parts.netloc, parts.query)
    if scheme == "tcp":
        from .tcp import TcpConnection

        host = parts.hostname
        try:
            port = parts.port or 9100
        except ValueError:
            raise PrinterError("printer.bad_url", f"bad port in {url!r}") from None
        if not host:
            raise PrinterError("printer.bad_url", "tcp:// needs a host, e.g. tcp://10.0.0.5:9100")
        return TcpConnection(url, model, host, port, parts.query)
    if scheme == "file":
        from .file import FileConnection

        return FileConnection(url, model, unquote(parts.netloc + parts.path), parts.query)
    if scheme == "virtual":
        from .virtual import VirtualConnection

        rest = unquote(url.split("://", 1)[1].split("?", 1)[0])
        if not rest.strip("/"):
            raise PrinterError("printer.bad_url", "virtual:// needs a folder")
        folder = Path(rest)
        if not folder.is_absolute():
            folder = Path(base_dir or Path.cwd()) / folder
        return VirtualConnection(url, model, folder)
    raise PrinterError(
        "printer.bad_url", f"unsupported printer URL {url!r} (schemes: {', '.join(SCHEMES)})"
    )
