"""Helpers for print-pipeline tests (also used by the API role matrix in tests/api)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from queue_server.printing import jobs
from queue_server.services.context import HallContext


def kiosk_ticket(hall: Any) -> dict[str, Any]:
    """A ticket issued by kiosk-1 (its slip queued on kiosk-1-printer)."""
    t = hall.issue("reg", hall.logins.kiosk)
    assert t["print"] is not None and t["print"]["status"] == "queued", t
    return t


def fail_job(ctx: HallContext, job_id: int, code: str = "printer.paper_end") -> None:
    """Drive a queued job to failed(code) through the state machine, as a worker would."""
    while True:  # older jobs of the printer go first: let them "print"
        got, _ = jobs.claim(ctx, "kiosk-1-printer", "worker:test", 30.0)
        assert got is not None, f"job {job_id} was not queued"
        if got.id == job_id:
            break
        jobs.finish(ctx, got.id, "worker:test", ok=True)
    view, _ = jobs.finish(ctx, job_id, "worker:test", ok=False, code=code, sent=False)
    assert view is not None and view["status"] == "failed", view


def failed_kiosk_ticket(hall: Any) -> dict[str, Any]:
    t = kiosk_ticket(hall)
    fail_job(hall.ctx, t["print"]["job_id"])
    return t


def wait_for(what: Callable[[], Any], deadline_s: float = 20.0, message: str = "") -> Any:
    """Poll ``what`` until it returns something truthy; fail at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {message or what}")
        time.sleep(0.02)  # polling interval of a bounded wait, not a synchronisation point


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png")) if folder.exists() else []


# ------------------------------------------------------------------ real processes


def prepare_instance(
    env: dict[str, str], devices: dict[str, str], users: dict[str, str]
) -> dict[str, str]:
    """Create the schema, users and devices of a server's instance in this process (the CLI
    would take seconds per command); returns device id → token. The server is still real."""
    from queue_server.config import Settings
    from queue_server.persistence.engine import Database
    from queue_server.services import accounts
    from queue_server.services.context import HallContext
    from queue_server.site import load_site
    from tests.support.database import migrated

    settings = Settings(
        instance_dir=Path(env["QUEUE_INSTANCE_DIR"]), site_file=env.get("QUEUE_SITE_FILE")
    )
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    migrated(settings.database_url)
    ctx = HallContext(site=load_site(settings.site_file), db=Database(settings.database_url))
    try:
        for name, password in users.items():
            accounts.add_user(ctx, name, "staff", password)
        return {did: accounts.add_device(ctx, kind, did) for did, kind in devices.items()}
    finally:
        ctx.db.dispose()
