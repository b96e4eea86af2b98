"""Two linked pseudo-terminals made by socat: a serial line without hardware (bench and tests)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path


class SocatPair:
    """``host`` (our side, for ``serial://``) and ``device`` (the printer's side) of one line."""

    def __init__(self, folder: Path, timeout: float = 5.0) -> None:
        if shutil.which("socat") is None:
            raise RuntimeError("socat is not installed (apt install socat)")
        self.host = folder / "host"
        self.device = folder / "device"
        self.proc = subprocess.Popen(
            [
                "socat",
                "-d",
                "-d",
                f"pty,raw,echo=0,link={self.host}",
                f"pty,raw,echo=0,link={self.device}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not (self.host.exists() and self.device.exists()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError(f"socat made no pty pair in {folder} within {timeout} s")
            time.sleep(0.01)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(5)
