"""``tcp://host[:9100]`` — a network printer's raw port."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket

from ..errors import PrinterError
from ..models import PrinterModel
from .base import StreamConnection, params

log = logging.getLogger(__name__)

OPTIONS: dict[str, type] = {"connect_timeout": float, "write_timeout": float, "timeout": float}


def _literal_family(host: str) -> socket.AddressFamily | None:
    """AF_INET or AF_INET6 for an IP address literal; None for a name (or a scoped IPv6
    address, which needs the resolver's scope id)."""
    if "%" in host:
        return None
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        return None
    return socket.AF_INET if version == 4 else socket.AF_INET6


class TcpConnection(StreamConnection):
    """Raw TCP (JetDirect, port 9100 by default). Connect timeout 3 s, write timeout 10 s,
    status answer timeout 0.5 s; the socket is kept open and reopened after an error."""

    scheme = "tcp"

    def __init__(
        self, url: str, model: PrinterModel, host: str, port: int, query_string: str
    ) -> None:
        super().__init__(url, model)
        opts = params(query_string, OPTIONS)
        self.host, self.port = host, port
        self.connect_timeout = float(opts.get("connect_timeout", 3.0))  # type: ignore[arg-type]
        self.write_timeout = float(opts.get("write_timeout", 10.0))  # type: ignore[arg-type]
        self.status_timeout = float(opts.get("timeout", 0.5))  # type: ignore[arg-type]
        self._sock: socket.socket | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _open(self) -> None:
        if self._sock is not None:
            return
        try:
            self._sock = self._connect()
        except TimeoutError:
            raise PrinterError(
                "printer.timeout", f"{self.where}: no answer within {self.connect_timeout} s"
            ) from None
        except socket.gaierror as exc:
            raise PrinterError("printer.not_found", f"{self.host}: unknown host ({exc})") from None
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                raise PrinterError("printer.offline", f"{self.where}: {exc.strerror}") from None
            raise PrinterError("printer.io_error", f"{self.where}: {exc}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _connect(self) -> socket.socket:
        """A connected socket. A printer given by IP address (the usual case) is connected to
        directly: ``create_connection`` would resolve it first, which under gevent is a trip
        through the thread pool for every job (about 0.2 ms of CPU)."""
        family = _literal_family(self.host)
        if family is None:
            return socket.create_connection((self.host, self.port), self.connect_timeout)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.settimeout(self.write_timeout)
            self._sock.sendall(data)
        except TimeoutError:
            raise PrinterError(
                "printer.timeout", f"{self.where}: write stalled for {self.write_timeout} s"
            ) from None
        except OSError as exc:
            raise PrinterError("printer.io_error", f"{self.where}: write failed: {exc}") from None

    def _recv_byte(self, timeout: float) -> int | None:
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout)
            got = self._sock.recv(1)
        except TimeoutError:
            return None
        except OSError as exc:
            raise PrinterError("printer.io_error", f"{self.where}: read failed: {exc}") from None
        if not got:
            raise PrinterError("printer.offline", f"{self.where}: connection closed by printer")
        return got[0]

    def _discard_input(self) -> None:
        """Drop bytes the printer sent unasked (late answers), without waiting.

        A non-blocking ``recv``, not ``select()``: a server holding many connections has file
        descriptors above 1023, which ``select()`` cannot take."""
        assert self._sock is not None
        self._sock.settimeout(0)
        try:
            while True:
                try:
                    chunk = self._sock.recv(256)
                except BlockingIOError:
                    return  # nothing (more) waiting
                except OSError as exc:
                    raise PrinterError("printer.io_error", f"{self.where}: {exc}") from None
                if not chunk:
                    raise PrinterError("printer.offline", f"{self.where}: connection closed")
        finally:
            self._sock.settimeout(self.status_timeout)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
