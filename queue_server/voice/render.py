"""Render one announcement offline: sox chime, espeak-ng Mandarin (pinyin), English.

Everything runs locally (espeak-ng and sox from Debian): chime → 0.25 s → Mandarin sentence →
(0.4 s → English sentence) → 0.2 s, 22.05 kHz mono 16-bit. The chime and the pauses are made
once per folder; each sentence is spoken once and kept, so the Mandarin-only and the
Mandarin + English announcement of a call share one espeak-ng run; the pieces are joined here
(same format, so joining is copying frames). Speech is made at a fixed espeak amplitude with
about 1 dB of headroom instead of being normalised: equal loudness from call to call.

The screens get the announcement as Ogg Vorbis (one sox run, about 20 ms of CPU): 44 KB for a
9.9 s call with English instead of 436 KB as WAV, a tenth of what every screen downloads.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import wave
from hashlib import sha256
from pathlib import Path

from .pinyin import to_pinyin

log = logging.getLogger(__name__)

ZH_VOICE = "cmn-latn-pinyin"
EN_VOICE = "en-us"
RATE = "22050"
MAX_CHARS = 400
#: espeak-ng's amplitude (0-200, default 100, about linear): at 100 the Mandarin voice peaks at
#: full scale; 80 leaves headroom for the screens' resampling.
AMPLITUDE = 80
TIMEOUT_S = 20
#: The tools run at this nice value (through ``nice``): on a busy machine the server's own work,
#: such as the fan-out of the call being announced, goes first; an idle core runs them at once.
#: At nice 0 the Ogg encoding added to the call's moment raised the browser bench's call →
#: paint p99 from 157-218 to 254-610 ms (5 pairs); at 10 both had a median of 198 ms (9 pairs).
NICE = 10
#: After killing a tool that overran, how long its exit is awaited before giving up on it.
KILL_WAIT_S = 5.0
#: sox's Vorbis quality (-1 to 10): 2 is about 40 kbit/s here, clean speech through speakers.
OGG_QUALITY = 2
#: Two soft notes (E6 then C6), like a hall's "ding-dong".
CHIME_NOTES = ((1318.5, 0.32), (1046.5, 0.55))


#: A reused file's time is refreshed when older than this (not a write per call).
TOUCH_AFTER_S = 3600.0


def touch_if_stale(path: Path, now: float | None = None) -> bool:
    """True when ``path`` exists; its modification time is set to now if older than an hour."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    if (now or time.time()) - mtime > TOUCH_AFTER_S:
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
    return True


class VoiceError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def _run(args: list[str]) -> None:
    """Run a tool to completion with ``posix_spawn`` (vfork-like), never ``fork()``.

    The server holding a thousand screens is a large process: copying its page tables for each
    espeak-ng and sox run (what ``subprocess`` does under gevent) took about a quarter of its
    CPU during calls. The wait polls without blocking, so a gevent loop keeps serving. The tool
    runs at ``NICE``."""
    program = shutil.which(args[0])
    if program is None:
        raise VoiceError(f"{args[0]} is not installed (apt-get install espeak-ng sox)")
    _catch_children_first()
    with tempfile.TemporaryFile() as err:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
        ]
        argv = [program, *args[1:]]
        niced = shutil.which("nice")  # coreutils: present wherever Debian is
        if niced is not None:
            argv = [niced, "-n", str(NICE), *argv]
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        status = _wait(pid, time.monotonic() + TIMEOUT_S)
        if status is None:
            raise VoiceError(f"{args[0]} took longer than {TIMEOUT_S} s")
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            stderr = err.read()[-500:].decode(errors="replace")
            raise VoiceError(f"{args[0]} failed ({code}): {stderr}")


def _catch_children_first() -> None:
    """Under gevent, put its SIGCHLD handler in place before a child can exit.

    gevent's ``posix_spawn`` watches each child, and its ``waitpid`` answers from that watcher,
    which only hears of an exit through SIGCHLD. gevent installs the handler with the process's
    first child watcher, after the first spawn has returned: a first child that exited in
    between (a loaded machine; the server's first sox run at start) was never reported, and
    the wait for it never ended. Installing it again is a no-op."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # not a gevent install
        return
    if monkey.is_module_patched("os"):
        get_hub().loop.install_sigchld()


def _wait(pid: int, deadline: float) -> int | None:
    """The child's wait status, or None (it is killed) when ``deadline`` passes. Never waits
    without a bound: after the kill it polls for a few seconds more."""
    pause = 0.002
    killed = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return None if killed else status
        if time.monotonic() > deadline:
            if killed:
                log.error("%d was killed but its exit was never reported; not waiting", pid)
                return None
            os.kill(pid, signal.SIGKILL)
            killed = True
            deadline = time.monotonic() + KILL_WAIT_S
        time.sleep(pause)  # gevent's sleep when the server is monkey-patched
        pause = min(pause * 2, 0.05)


def tools_present() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def _silence(path: Path, seconds: float) -> Path:
    _run(["sox", "-n", "-r", RATE, "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds)])
    return path


def _chime(path: Path) -> Path:
    notes = []
    for i, (freq, length) in enumerate(CHIME_NOTES):
        note = path.with_name(f"{path.stem}.note{i}.wav")
        _run(
            [
                "sox", "-n", "-r", RATE, "-c", "1", "-b", "16", str(note),
                "synth", str(length), "sine", str(freq),
                "fade", "q", "0.01", str(length), str(length * 0.8), "vol", "0.5",
            ]
        )  # fmt: skip
        notes.append(str(note))
    _run(["sox", *notes, str(path)])
    for note in notes:
        Path(note).unlink()
    return path


#: The fixed parts (chime and pauses), made once per folder.
PARTS = {
    "chime": lambda p: _chime(p),
    "gap1": lambda p: _silence(p, 0.25),
    "gap2": lambda p: _silence(p, 0.4),
    "tail": lambda p: _silence(p, 0.2),
}


def _part(folder: Path, name: str) -> Path:
    path = folder / f"{name}.wav"
    if not path.exists():
        tmp = folder / f"{name}.{os.getpid()}.{threading.get_ident()}.tmp.wav"
        PARTS[name](tmp)
        tmp.replace(path)
    return path


def prepare_parts(folder: Path) -> list[Path]:
    """Make the fixed parts of ``folder``'s announcements now (``serve`` does at start), so
    that the first call of a fresh install does not wait for their six sox runs."""
    parts_dir = folder / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    return [_part(parts_dir, name) for name in PARTS]


_speech_locks: dict[str, threading.Lock] = {}
_speech_guard = threading.Lock()


def _speech(folder: Path, voice: str, text: str, speed: int) -> Path:
    """The sentence spoken by espeak-ng (22.05 kHz mono 16-bit WAV, the format of the fixed
    parts), from ``<folder>/speech`` or made now; concurrent renders wait for one run."""
    text = text[:MAX_CHARS]
    key = sha256(f"{voice}|{speed}|{AMPLITUDE}|{text}".encode()).hexdigest()[:32]
    path = folder / "speech" / f"{key}.wav"
    if touch_if_stale(path):  # kept while announcements use it (AudioStore.prune)
        return path
    with _speech_guard:
        lock = _speech_locks.setdefault(key, threading.Lock())
    with lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp.wav")
            args = ["espeak-ng", "-v", voice, "-s", str(speed), "-a", str(AMPLITUDE)]
            _run([*args, "-w", str(tmp), text])
            tmp.replace(path)
    with _speech_guard:
        _speech_locks.pop(key, None)
    return path


def _join(parts: list[Path], out: Path) -> None:
    """Concatenate WAVs of one format into ``out`` (frames copied, nothing resampled)."""
    with wave.open(str(out), "wb") as joined:
        fmt = None
        for part in parts:
            with wave.open(str(part), "rb") as piece:
                params = piece.getparams()
                if fmt is None:
                    fmt = params[:3]  # channels, sample width, rate
                    joined.setparams(params)
                elif params[:3] != fmt:
                    raise VoiceError(f"{part.name} is {params[:3]}, not {fmt}")
                joined.writeframes(piece.readframes(params.nframes))


def render(text_zh: str, text_en: str | None, out: Path) -> None:
    """Write chime + Mandarin (+ English) to ``out`` atomically (temp file, then rename): Ogg
    Vorbis when ``out`` ends in ``.ogg``, else WAV.

    At most one espeak-ng run per sentence not spoken before (none for a recall, one for the
    English variant of a call whose Mandarin was just spoken); the WAV needs no other process,
    the Ogg one sox run to encode it.
    """
    folder = out.parent
    parts_dir = folder / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        _part(parts_dir, "chime"),
        _part(parts_dir, "gap1"),
        _speech(folder, ZH_VOICE, to_pinyin(text_zh), 135),
    ]
    if text_en:
        parts += [_part(parts_dir, "gap2"), _speech(folder, EN_VOICE, text_en, 150)]
    parts.append(_part(parts_dir, "tail"))
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.{threading.get_ident()}.tmp.wav")
    encoded = tmp.with_suffix(".ogg")
    try:
        _join(parts, tmp)
        if out.suffix == ".ogg":
            _run(["sox", str(tmp), "-C", str(OGG_QUALITY), str(encoded)])
            encoded.replace(out)
        else:
            tmp.replace(out)
    except (OSError, wave.Error) as exc:
        raise VoiceError(f"cannot join the announcement: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
        encoded.unlink(missing_ok=True)
