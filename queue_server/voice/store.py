"""Announcement audio cached by text hash in ``<instance>/audio``.

``url_for`` is cheap and runs inside the call transaction: it hashes the texts, writes a small
recipe ``<sha>.json`` (once) and returns ``/audio/<sha>.ogg``. The audio is rendered in the
background right after (serve mode) or on the first request of the URL, whichever comes
first; a per-hash lock makes concurrent requests wait for one render instead of racing.

Files live as long as they are used: ``prune`` deletes the announcements whose recipe was not
used for the keeping time (``url_for`` refreshes a recipe's time when it reuses it, at most
hourly) and the spoken sentences no render used for as long.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import render as rendering
from .render import touch_if_stale

log = logging.getLogger(__name__)

#: Bump when the rendering changes: every URL changes with it, old files are never reused.
VOICE_VERSION = 3  # 3: Ogg Vorbis instead of WAV
SHA = re.compile(r"^[0-9a-f]{32}$")


class AudioStore:
    def __init__(self, folder: Path, background: Callable[..., Any] | None = None) -> None:
        self.folder = folder
        self.background = background
        self.renders = 0
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @staticmethod
    def digest(text_zh: str, text_en: str | None) -> str:
        recipe = {"v": VOICE_VERSION, "zh": text_zh, "en": text_en or None}
        blob = json.dumps(recipe, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    def audio(self, sha: str) -> Path:
        return self.folder / f"{sha}.ogg"

    def _recipe(self, sha: str) -> Path:
        return self.folder / f"{sha}.json"

    def url_for(
        self, text_zh: str, text_en: str | None = None, render_now: bool = True
    ) -> str | None:
        """``/audio/<sha>.ogg`` for these texts (the recipe is stored; rendering comes later:
        in the background at once when serving and ``render_now``, else on the first request)."""
        sha = self.digest(text_zh, text_en)
        path = self._recipe(sha)
        if not touch_if_stale(path):
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(
                    json.dumps({"zh": text_zh, "en": text_en}, ensure_ascii=False),
                    encoding="utf-8",
                )
                tmp.replace(path)
            except OSError as exc:
                log.error("cannot store the announcement recipe %s: %s", sha, exc)
                return None
        if render_now and self.background is not None and not self.audio(sha).exists():
            self.background(self._render_quietly, sha)
        return f"/audio/{sha}.ogg"

    def _lock(self, sha: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha, threading.Lock())

    def ensure(self, sha: str) -> tuple[Path, bool] | None:
        """The audio of ``sha`` (rendered now if needed) and whether it was cached; None when
        ``sha`` is unknown."""
        if not SHA.match(sha):
            return None
        out = self.audio(sha)
        if out.exists():
            return out, True
        with self._lock(sha):
            if out.exists():
                return out, True
            try:
                recipe = json.loads(self._recipe(sha).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            rendering.render(recipe["zh"], recipe.get("en"), out)
            self.renders += 1
            log.info("rendered announcement audio %s", sha)
        with self._guard:
            self._locks.pop(sha, None)
        return out, False

    def _render_quietly(self, sha: str) -> None:
        try:
            self.ensure(sha)
        except Exception:
            log.exception("background rendering of announcement %s failed", sha)

    def prune(self, keep_s: float, now: float | None = None) -> int:
        """Delete announcements (recipe and audio) not used for ``keep_s`` and spoken sentences
        older than that; returns how many announcements went. Unreadable files are skipped.
        WAV announcements of versions before 3 go the same way."""
        cutoff = (now or time.time()) - keep_s
        gone = 0
        for recipe in self.folder.glob("*.json"):
            try:
                if recipe.stat().st_mtime >= cutoff:
                    continue
                self.audio(recipe.stem).unlink(missing_ok=True)
                recipe.with_suffix(".wav").unlink(missing_ok=True)
                recipe.unlink(missing_ok=True)
                gone += 1
            except OSError as exc:
                log.warning("cannot prune announcement %s: %s", recipe.stem, exc)
        # audio without a recipe; old sentences
        for pattern in ("*.ogg", "*.wav", "speech/*.wav"):
            for sound in self.folder.glob(pattern):
                try:
                    orphan = sound.parent != self.folder or not self._recipe(sound.stem).exists()
                    if orphan and sound.stat().st_mtime < cutoff:
                        sound.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("cannot prune %s: %s", sound.name, exc)
        if gone:
            log.info("pruned %d announcements not used for %.0f days", gone, keep_s / 86400)
        return gone
