"""``usb://VID:PID?interface=0&out_ep=0x01&in_ep=0x82`` through pyusb (libusb)."""

from __future__ import annotations

import errno
import logging
from typing import Any

from ..errors import PrinterError
from ..models import PrinterModel
from .base import StreamConnection, params

log = logging.getLogger(__name__)

OPTIONS: dict[str, type] = {
    "interface": int,
    "out_ep": int,
    "in_ep": int,
    "timeout": float,
    "write_timeout": float,
    "serial": str,
}
UDEV_HINT = (
    'add a udev rule such as SUBSYSTEM=="usb", ATTRS{{idVendor}}=="{vid}", '
    'ATTRS{{idProduct}}=="{pid}", MODE="0660", GROUP="lp" to '
    "/etc/udev/rules.d/60-receipt-printer.rules, then udevadm control --reload && "
    "udevadm trigger, and add the user to the 'lp' group (see docs/printing.md)"
)


def parse_ids(netloc: str) -> tuple[int, int]:
    try:
        vid, pid = netloc.split(":")
        return int(vid, 16), int(pid, 16)
    except ValueError:
        raise PrinterError(
            "printer.bad_url", f"usb:// needs VID:PID in hex, not {netloc!r}"
        ) from None


def usb_error(exc: Exception, what: str, vid: int, pid: int) -> PrinterError:
    """Map a pyusb error (``usb.core.USBError`` / ``USBTimeoutError``) to a printer error."""
    import usb.core

    ident = f"{vid:04x}:{pid:04x}"
    if isinstance(exc, usb.core.USBTimeoutError) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        return PrinterError("printer.timeout", f"USB printer {ident}: {what} timed out")
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return PrinterError(
            "printer.permission",
            f"no permission for USB printer {ident}: "
            + UDEV_HINT.format(vid=f"{vid:04x}", pid=f"{pid:04x}"),
        )
    if code == errno.EBUSY:
        return PrinterError(
            "printer.busy",
            f"USB printer {ident}: interface busy (claimed by another process or a kernel driver "
            "such as usblp; stop the other program or use file:///dev/usb/lp0)",
        )
    if code in (errno.ENODEV, errno.ENOENT):
        return PrinterError("printer.not_found", f"USB printer {ident} disconnected")
    if code == errno.EPIPE:
        return PrinterError(
            "printer.io_error", f"USB printer {ident}: endpoint stalled during {what}"
        )
    return PrinterError("printer.io_error", f"USB printer {ident}: {what} failed: {exc}")


class UsbConnection(StreamConnection):
    """A USB printer claimed through libusb. Timeouts are always finite (write 5 s,
    status 0.5 s); the kernel's usblp driver is detached when it holds the interface."""

    scheme = "usb"

    def __init__(self, url: str, model: PrinterModel, netloc: str, query_string: str) -> None:
        super().__init__(url, model)
        self.vid, self.pid = parse_ids(netloc)
        opts = params(query_string, OPTIONS)
        self.interface = int(opts.get("interface", 0))  # type: ignore[call-overload]
        self.out_ep: int | None = opts.get("out_ep")  # type: ignore[assignment]
        self.in_ep: int | None = opts.get("in_ep")  # type: ignore[assignment]
        self.serial: str | None = opts.get("serial")  # type: ignore[assignment]
        self.status_timeout = float(opts.get("timeout", 0.5))  # type: ignore[arg-type]
        self.write_timeout = float(opts.get("write_timeout", 5.0))  # type: ignore[arg-type]
        for name in ("status_timeout", "write_timeout"):
            if getattr(self, name) <= 0:
                raise PrinterError("printer.bad_url", "USB timeouts must be > 0 (never infinite)")
        self._dev: Any = None

    def _err(self, exc: Exception, what: str) -> PrinterError:
        return usb_error(exc, what, self.vid, self.pid)

    def _open(self) -> None:
        if self._dev is not None:
            return
        import usb.core
        import usb.util

        try:
            kwargs: dict[str, Any] = {"idVendor": self.vid, "idProduct": self.pid}
            if self.serial:
                kwargs["serial_number"] = self.serial
            dev = usb.core.find(**kwargs)
        except usb.core.NoBackendError:
            raise PrinterError(
                "printer.io_error", "libusb is not installed (apt install libusb-1.0-0)"
            ) from None
        except usb.core.USBError as exc:
            raise self._err(exc, "lookup") from None
        if dev is None:
            raise PrinterError("printer.not_found", f"no USB device {self.vid:04x}:{self.pid:04x}")
        try:
            if dev.is_kernel_driver_active(self.interface):
                dev.detach_kernel_driver(self.interface)
            try:
                dev.set_configuration()
            except usb.core.USBError as exc:
                if exc.errno != errno.EBUSY:  # already configured and in use is fine
                    raise
            usb.util.claim_interface(dev, self.interface)
            if self.out_ep is None or self.in_ep is None:
                self._find_endpoints(dev)
        except (usb.core.USBError, NotImplementedError) as exc:
            usb.util.dispose_resources(dev)
            raise self._err(exc, "open") from None
        self._dev = dev

    def _find_endpoints(self, dev: Any) -> None:
        import usb.util

        intf = dev.get_active_configuration()[(self.interface, 0)]
        for ep in intf:
            if usb.util.endpoint_type(ep.bmAttributes) != usb.util.ENDPOINT_TYPE_BULK:
                continue
            if usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_OUT:
                self.out_ep = self.out_ep if self.out_ep is not None else ep.bEndpointAddress
            else:
                self.in_ep = self.in_ep if self.in_ep is not None else ep.bEndpointAddress
        if self.out_ep is None:
            raise PrinterError("printer.io_error", "no bulk OUT endpoint on the interface")

    def _send(self, data: bytes) -> None:
        import usb.core

        try:
            written = self._dev.write(self.out_ep, data, int(self.write_timeout * 1000))
        except usb.core.USBError as exc:
            raise self._err(exc, "write") from None
        if written != len(data):
            raise PrinterError(
                "printer.io_error", f"short USB write: {written} of {len(data)} bytes"
            )

    def _recv_byte(self, timeout: float) -> int | None:
        import usb.core

        if self.in_ep is None:
            return None
        try:
            got = self._dev.read(self.in_ep, 64, max(1, int(timeout * 1000)))
        except usb.core.USBTimeoutError:
            return None
        except usb.core.USBError as exc:
            raise self._err(exc, "status read") from None
        return got[-1] if len(got) else None

    def close(self) -> None:
        if self._dev is not None:
            import usb.util

            try:
                usb.util.release_interface(self._dev, self.interface)
                usb.util.dispose_resources(self._dev)
            except Exception:
                log.debug("USB release failed", exc_info=True)
            finally:
                self._dev = None


def list_usb_printers() -> list[dict[str, object]]:
    """USB devices with a printer-class interface (class 7), as ``usb://`` URLs."""
    import usb.core

    found = []
    try:
        devices = list(usb.core.find(find_all=True))
    except usb.core.NoBackendError:
        raise PrinterError(
            "printer.io_error", "libusb is not installed (apt install libusb-1.0-0)"
        ) from None
    for dev in devices:
        try:
            classes = {intf.bInterfaceClass for cfg in dev for intf in cfg}
        except usb.core.USBError:
            classes = set()
        if 7 in classes or dev.bDeviceClass == 7:
            found.append(
                {
                    "url": f"usb://{dev.idVendor:04x}:{dev.idProduct:04x}",
                    "vendor_id": f"{dev.idVendor:04x}",
                    "product_id": f"{dev.idProduct:04x}",
                    "bus": dev.bus,
                    "address": dev.address,
                }
            )
    return found
