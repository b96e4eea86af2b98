"""Debian's Chromium driven by Playwright (no browser download: ``executable_path``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Playwright

#: Flags for a root user on a closed network (see the machine notes): no sandbox, no GPU, no
#: background connections that the network would refuse, autoplay allowed for the voice tests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str:
    """The system Chromium (``QUEUE_TEST_CHROMIUM`` overrides); fails clearly when missing."""
    path = os.environ.get("QUEUE_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path:
        raise RuntimeError("Chromium is missing: apt-get install chromium (scripts/test does it)")
    return path


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )


def screenshot_dir(area: str) -> Path:
    """``test-artifacts/screenshots/<area>``: screenshots kept by the test run for review."""
    path = ARTIFACTS / "screenshots" / area
    path.mkdir(parents=True, exist_ok=True)
    return path
