"""Settings from environment variables (QUEUE_*); the hall itself comes from the site file."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_INSTANCE = Path.cwd() / "instance"


@dataclass
class Settings:
    """One object with every setting; ``from_env`` reads QUEUE_* variables."""

    database_url: str = ""
    redis_url: str | None = None
    redis_channel: str = "outpatient-hall"
    site_file: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    instance_dir: Path = DEFAULT_INSTANCE
    public_base_url: str = ""
    day_reset_interval_s: float = 60.0
    #: ``queue.changed`` events of one service are merged over this window (0: send each).
    queue_event_window_s: float = 1.0
    #: ticket issues worked on at once per process; more are refused with server.busy (0: no limit)
    max_issues_in_flight: int = 64
    #: ``serve`` refuses ticket issue while its event loop runs this late (0: not checked)
    max_loop_lag_ms: float = 0.0
    #: announcement audio not used for this many days is deleted by ``serve`` (0: kept forever)
    audio_keep_days: float = 7.0
    testing: bool = False

    def __post_init__(self) -> None:
        self.instance_dir = Path(self.instance_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_dir / 'queue.sqlite3'}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        instance = Path(env.get("QUEUE_INSTANCE_DIR", str(DEFAULT_INSTANCE)))
        values: dict[str, object] = {
            "database_url": env.get("QUEUE_DATABASE_URL", ""),
            "redis_url": env.get("QUEUE_REDIS_URL") or None,
            "redis_channel": env.get("QUEUE_REDIS_CHANNEL", "outpatient-hall"),
            "site_file": env.get("QUEUE_SITE_FILE") or None,
            "instance_dir": instance,
            "public_base_url": env.get("QUEUE_PUBLIC_BASE_URL", ""),
            "queue_event_window_s": float(env.get("QUEUE_EVENT_WINDOW_MS", "1000")) / 1000,
            "max_issues_in_flight": int(env.get("QUEUE_MAX_ISSUES_IN_FLIGHT", "64")),
            "max_loop_lag_ms": float(env.get("QUEUE_MAX_LOOP_LAG_MS", "500")),
            "audio_keep_days": float(env.get("QUEUE_AUDIO_KEEP_DAYS", "7")),
        }
        if env.get("QUEUE_SECRET_KEY"):
            values["secret_key"] = env["QUEUE_SECRET_KEY"]
        else:
            values["secret_key"] = _instance_secret(instance)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _instance_secret(instance: Path) -> str:
    """A secret kept in the instance folder, so sessions survive restarts without configuration."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
