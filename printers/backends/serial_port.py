"""``serial:///dev/ttyUSB0?baudrate=38400&rtscts=1`` through pyserial."""

from __future__ import annotations

import errno
import logging

import serial

from ..errors import PrinterError
from ..models import PrinterModel
from .base import StreamConnection, params

log = logging.getLogger(__name__)

OPTIONS: dict[str, type] = {
    "baudrate": int,
    "bytesize": int,
    "parity": str,
    "stopbits": float,
    "rtscts": bool,
    "xonxoff": bool,
    "dsrdtr": bool,
    "write_timeout": float,
    "timeout": float,
    "exclusive": bool,
}
CHUNK = 256


def open_error(port: str, exc: Exception) -> PrinterError:
    """Map a pyserial/OS open failure to a printer error code."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return PrinterError("printer.not_found", f"serial port {port} not found")
    if code in (errno.EACCES, errno.EPERM):
        return PrinterError(
            "printer.permission",
            f"no permission to open {port}: add the user to the 'dialout' group "
            "(sudo usermod -aG dialout USER) or install a udev rule",
        )
    if code == errno.EBUSY or "exclusively lock" in text:
        return PrinterError("printer.busy", f"serial port {port} is in use by another process")
    return PrinterError("printer.io_error", f"cannot open {port}: {text}")


class SerialConnection(StreamConnection):
    """A printer on a serial port. Defaults: 9600 8N1, no flow control, exclusive lock,
    5 s write timeout per 256-byte chunk (a stalled line is ``printer.timeout``)."""

    scheme = "serial"

    def __init__(self, url: str, model: PrinterModel, port: str, query_string: str) -> None:
        super().__init__(url, model)
        opts = params(query_string, OPTIONS)
        parity = str(opts.get("parity", "N")).upper()[:1]
        if parity not in serial.PARITY_NAMES:
            raise PrinterError("printer.bad_url", f"parity must be one of N E O M S, not {parity}")
        stopbits = opts.get("stopbits", 1)
        stopbits = int(stopbits) if stopbits in (1.0, 2.0) else stopbits
        if stopbits not in serial.Serial.STOPBITS:
            raise PrinterError("printer.bad_url", "stopbits must be 1, 1.5 or 2")
        bytesize = opts.get("bytesize", 8)
        if bytesize not in serial.Serial.BYTESIZES:
            raise PrinterError("printer.bad_url", "bytesize must be 5, 6, 7 or 8")
        baudrate = opts.get("baudrate", 9600)
        if baudrate not in serial.Serial.BAUDRATES and not 1200 <= baudrate <= 4_000_000:  # type: ignore[operator]
            raise PrinterError("printer.bad_url", f"unsupported baudrate {baudrate}")
        self.port = port
        self.settings = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
            "rtscts": opts.get("rtscts", False),
            "xonxoff": opts.get("xonxoff", False),
            "dsrdtr": opts.get("dsrdtr", False),
            "write_timeout": opts.get("write_timeout", 5.0),
            "exclusive": opts.get("exclusive", True),
        }
        self.status_timeout = float(opts.get("timeout", 0.5))  # type: ignore[arg-type]
        self._port: serial.Serial | None = None

    def _open(self) -> None:
        if self._port is not None:
            return
        try:
            self._port = serial.Serial(self.port, timeout=self.status_timeout, **self.settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise open_error(self.port, exc) from None
        log.debug("opened %s %s", self.port, self.settings)

    def _send(self, data: bytes) -> None:
        assert self._port is not None
        try:
            for i in range(0, len(data), CHUNK):
                self._port.write(data[i : i + CHUNK])
        except serial.SerialTimeoutException:
            raise PrinterError(
                "printer.timeout",
                f"{self.port}: write stalled for {self.settings['write_timeout']} s "
                "(printer busy, out of paper or flow control held)",
            ) from None
        except (serial.SerialException, OSError) as exc:
            raise PrinterError("printer.io_error", f"{self.port}: write failed: {exc}") from None

    def _recv_byte(self, timeout: float) -> int | None:
        assert self._port is not None
        try:
            self._port.timeout = timeout
            got = self._port.read(1)
        except (serial.SerialException, OSError) as exc:
            raise PrinterError("printer.io_error", f"{self.port}: read failed: {exc}") from None
        return got[0] if got else None

    def _discard_input(self) -> None:
        assert self._port is not None
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise PrinterError("printer.io_error", f"{self.port}: {exc}") from None

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None
