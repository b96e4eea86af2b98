"""Announcement audio cached by text hash in ``<instance>/audio``.

``url_for`` is cheap and runs inside the call transaction: it hashes the texts, writes a small
recipe ``<sha>.json`` (once) and returns ``/audio/<sha>.wav``. The WAV is rendered in the
background right after (serve mode) or on the first request of the URL, whichever comes
first; a per-hash lock makes concurrent requests wait for one render instead of racing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import render as rendering

log = logging.getLogger(__name__)

#: Bump when the rendering changes: every URL changes with it, old files are never reused.
VOICE_VERSION = 2
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

    def wav(self, sha: str) -> Path:
        return self.folder / f"{sha}.wav"

    def _recipe(self, sha: str) -> Path:
        return self.folder / f"{sha}.json"

    def url_for(self, text_zh: str, text_en: str | None = None) -> str | None:
        """``/audio/<sha>.wav`` for these texts (the recipe is stored; rendering comes later)."""
        sha = self.digest(text_zh, text_en)
        path = self._recipe(sha)
        if not path.exists():
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
        if self.background is not None and not self.wav(sha).exists():
            self.background(self._render_quietly, sha)
        return f"/audio/{sha}.wav"

    def _lock(self, sha: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha, threading.Lock())

    def ensure(self, sha: str) -> tuple[Path, bool] | None:
        """The WAV of ``sha`` (rendered now if needed) and whether it was cached; None: unknown."""
        if not SHA.match(sha):
            return None
        out = self.wav(sha)
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
