"""Offline voice: pinyin for the announcement vocabulary, WAVs of espeak-ng speech and sox parts,
cached by text hash, served at /audio/<sha>.ogg, URL carried by ticket.called."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from queue_server import hall_of, socketio_of
from queue_server.voice import render
from queue_server.voice.pinyin import number_words, to_pinyin
from queue_server.voice.store import AudioStore
from tests.api.conftest import Hall


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "请A零二三号到1号窗口办理",
            "qing3 A ling2 er4 san1 hao4 dao4 yi1 hao4 chuang1 kou3 ban4 li3",
        ),
        (
            "请B零零九号到12号抽血窗口抽血",
            "qing3 B ling2 ling2 jiu3 hao4 dao4 shi2 er4 hao4 chou1 xue4 chuang1 kou3 chou1 xue4",
        ),
        (
            "请C零零一号患者到1诊室就诊, 王建国专家门诊",
            "qing3 C ling2 ling2 yi1 hao4 huan4 zhe3 dao4 yi1 zhen3 shi4 jiu4 zhen3, "
            "王建国 zhuan1 jia1 men2 zhen3",
        ),
        ("请F零一二号到B超1室检查", "qing3 F ling2 yi1 er4 hao4 dao4 B chao1 yi1 shi4 jian3 cha2"),
    ],
)
def test_pinyin_of_announcements(text: str, expected: str) -> None:
    assert to_pinyin(text) == expected


def test_number_words() -> None:
    assert [number_words(n) for n in (0, 7, 10, 12, 20, 105, 110, 1010)] == [
        "零", "七", "十", "十二", "二十", "一百零五", "一百一十", "一千零一十",
    ]  # fmt: skip


def duration(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout)


def test_call_carries_audio_urls_and_the_audio_is_rendered_once(hall: Hall, tmp_path: Path) -> None:
    hall.set_counter("reg-1", "open")
    hall.issue("reg")
    client = socketio_of(hall.app).test_client(
        hall.app, namespace="/display", auth={"token": hall.logins.display["Authorization"][7:]}
    )
    client.get_received("/display")
    hall.call_next("reg-1")
    called = [m for m in client.get_received("/display") if m["name"] == "ticket.called"]
    ann = called[0]["args"][0]["announcement"]
    assert ann["audio_url"].startswith("/audio/") and ann["audio_url"].endswith(".ogg")
    assert ann["audio_url_en"] and ann["audio_url_en"] != ann["audio_url"]
    store: AudioStore = hall.app.extensions["hall_voice"]
    assert ann["audio_url"] == f"/audio/{store.digest(ann['text'], None)}.ogg"

    first = hall.client.get(ann["audio_url"])
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.mimetype == "audio/ogg" and first.headers["X-Audio-Cache"] == "miss"
    data = first.get_data()
    assert data[:4] == b"OggS" and b"\x01vorbis" in data[:64]
    ogg = tmp_path / "a.ogg"
    ogg.write_bytes(data)
    zh = duration(ogg)
    assert 1.5 <= zh <= 15, zh
    assert len(data) < zh * 8000  # compressed: 16-bit PCM at 22.05 kHz would be 44,100 B/s
    renders = store.renders
    second = hall.client.get(ann["audio_url"])
    assert second.headers["X-Audio-Cache"] == "hit" and second.get_data() == data
    assert store.renders == renders

    both = hall.client.get(ann["audio_url_en"])
    assert both.status_code == 200
    ogg.write_bytes(both.get_data())
    assert duration(ogg) > zh + 1.0  # the English sentence follows
    assert hall_of(hall.app).site.services["reg"].call_template_en


def test_a_call_renders_at_once_only_the_audio_its_speaking_screens_play(hall: Hall) -> None:
    """reg is announced by the hall board only (English line; its counter screens are mute):
    only the announcement with English is rendered at the call. blood is also announced by the
    blood zone screen (no English line): both are. The other URL still renders on request."""
    store: AudioStore = hall.app.extensions["hall_voice"]
    started: list[str] = []
    store.background = lambda _render, sha: started.append(sha)
    site = hall_of(hall.app).site
    assert site.voices_for("reg", "reg-1") == (False, True)
    assert site.voices_for("blood", "blood-1") == (True, True)
    assert site.voices_for("im1", "room-1") == (True, False)  # zone and door screens, no English
    client = socketio_of(hall.app).test_client(
        hall.app, namespace="/display", auth={"token": hall.logins.display["Authorization"][7:]}
    )
    client.get_received("/display")

    def call(service: str, counter: str) -> dict[str, Any]:
        hall.set_counter(counter, "open")
        hall.issue(service)
        hall.call_next(counter)
        called = [m for m in client.get_received("/display") if m["name"] == "ticket.called"]
        return called[-1]["args"][0]["announcement"]

    reg = call("reg", "reg-1")
    assert started == [store.digest(reg["text"], reg["text_en"])]
    blood = call("blood", "blood-1")
    assert started[1:] == [
        store.digest(blood["text"], None),
        store.digest(blood["text"], blood["text_en"]),
    ]
    assert hall.client.get(reg["audio_url"]).status_code == 200  # rendered when asked for


def test_unknown_or_bad_hash(hall: Hall) -> None:
    assert hall.client.get("/audio/" + "0" * 32 + ".ogg").status_code == 404
    assert hall.client.get("/audio/../../etc.ogg").status_code == 404
    assert hall.client.get("/audio/XYZ.ogg").status_code == 404


def test_digest_depends_on_every_text() -> None:
    a = AudioStore.digest("请A零零一号到1号窗口办理", None)
    assert a == AudioStore.digest("请A零零一号到1号窗口办理", None)
    assert a != AudioStore.digest("请A零零二号到1号窗口办理", None)
    assert a != AudioStore.digest("请A零零一号到1号窗口办理", "Number A 0 0 1")


def test_default_templates_per_kind_of_service(tmp_path: Path) -> None:
    from queue_server.site import parse_site

    def site(extra: str) -> str:
        return '[[services]]\nid = "s"\nname_zh = "诊"\nname_en = "S"\nprefix = "S"\n' + extra

    window = parse_site(site('kind = "window"\n')).services["s"]
    room = parse_site(site('kind = "room"\n')).services["s"]
    expert = parse_site(site('kind = "room"\nexpert = true\n')).services["s"]
    assert window.call_template_zh == "请{number}号到{counter}"
    assert room.call_template_zh == "请{number}号患者到{counter}就诊"
    assert expert.call_template_zh == "请{number}号患者到{counter}就诊, {doctor}专家门诊"


def test_tools_run_to_completion_and_failures_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "made"
    render._run(["sh", "-c", f"echo -n ok > {out}"])
    assert out.read_text() == "ok"
    with pytest.raises(render.VoiceError, match=r"sh failed \(3\): no voice here"):
        render._run(["sh", "-c", "echo no voice here >&2; exit 3"])
    with pytest.raises(render.VoiceError, match="not installed"):
        render._run(["no-such-tool-for-voice", "x"])
    monkeypatch.setattr(render, "TIMEOUT_S", 0.3)
    with pytest.raises(render.VoiceError, match=r"took longer than 0\.3 s"):
        render._run(["sleep", "30"])


#: A fresh gevent-patched process whose first child exits before gevent watches it, as the
#: server's first sox run can on a loaded machine: gevent's ``posix_spawn`` is made to return
#: only after its child is gone.
FIRST_CHILD_GONE = """
from gevent import monkey
monkey.patch_all()
import gevent, gevent.os
from gevent.monkey import get_original
real_sleep, raw_spawn = get_original("time", "sleep"), gevent.os._raw_posix_spawn
def late_spawn(*args, **kwargs):
    pid = raw_spawn(*args, **kwargs)
    real_sleep(0.3)
    return pid
gevent.os._raw_posix_spawn = late_spawn
from queue_server.voice import render
render.TIMEOUT_S, render.KILL_WAIT_S = 2, 2
first = gevent.spawn(render._run, ["true"])
first.join(timeout=15)
print("finished" if first.ready() else "waiting", repr(first.exception))
"""


def test_under_gevent_a_first_child_that_exits_at_once_is_seen_to_exit() -> None:
    run = subprocess.run(
        [sys.executable, "-c", FIRST_CHILD_GONE], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["finished", "None"], run.stdout + run.stderr


def frames(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The programs the renderer runs, in order (they still run)."""
    seen: list[str] = []
    real_run = render._run

    def counted(args: list[str]) -> None:
        seen.append(args[0])
        real_run(args)

    monkeypatch.setattr(render, "_run", counted)
    return seen


def test_a_call_speaks_each_sentence_once_and_joins_without_another_process(
    tmp_path: Path, runs: list[str]
) -> None:
    """The Mandarin-only and the Mandarin + English announcement of a call share one
    espeak-ng run of the Mandarin; joining the pieces starts no process."""
    zh, en = "请A零二三号到1号窗口办理", "Number A 0 2 3, please go to window 1"
    render.render(zh, None, tmp_path / "zh.wav")
    assert runs.count("espeak-ng") == 1
    made_parts = len(runs)  # the chime and the pauses, made once for the folder
    render.render(zh, en, tmp_path / "both.wav")
    assert runs[made_parts:] == ["sox", "espeak-ng"]  # the longer pause, the English sentence
    render.render(zh, en, tmp_path / "again.wav")
    assert runs[made_parts + 2 :] == []

    parts = tmp_path / "parts"
    assert len(list((tmp_path / "speech").glob("*.wav"))) == 2
    spoken_zh = render._speech(tmp_path, render.ZH_VOICE, to_pinyin(zh), 135)  # kept: no run
    spoken_en = render._speech(tmp_path, render.EN_VOICE, en, 150)
    assert runs[made_parts + 2 :] == []
    fixed = frames(parts / "chime.wav") + frames(parts / "gap1.wav") + frames(parts / "tail.wav")
    assert frames(tmp_path / "zh.wav") == fixed + frames(spoken_zh)
    together = fixed + frames(spoken_zh) + frames(parts / "gap2.wav") + frames(spoken_en)
    assert frames(tmp_path / "both.wav") == together
    assert frames(spoken_zh) > 22050 and frames(spoken_en) > 22050  # a sentence, not a blip
    assert (tmp_path / "again.wav").read_bytes() == (tmp_path / "both.wav").read_bytes()
    assert not list(tmp_path.glob("**/*.tmp.wav"))


def test_the_screens_announcement_is_the_joined_wav_encoded_once_as_ogg_vorbis(
    tmp_path: Path, runs: list[str]
) -> None:
    """``.ogg``: the same announcement as the WAV (same length, same sample rate), encoded by
    one sox run, in a fraction of the bytes; no temporary file is left."""
    zh, en = "请A零二三号到1号窗口办理", "Number A 0 2 3, please go to window 1"
    render.render(zh, en, tmp_path / "call.wav")
    before = len(runs)
    render.render(zh, en, tmp_path / "call.ogg")
    assert runs[before:] == ["sox"]  # the sentences are kept: only the encoding runs
    for option, expected in (("-t", "vorbis"), ("-r", "22050"), ("-c", "1")):
        read = subprocess.run(
            ["soxi", option, str(tmp_path / "call.ogg")], capture_output=True, text=True
        )
        assert read.returncode == 0 and read.stdout.strip() == expected, (option, read)
    assert duration(tmp_path / "call.ogg") == pytest.approx(
        duration(tmp_path / "call.wav"), abs=0.05
    )
    wav_bytes = (tmp_path / "call.wav").stat().st_size
    assert (tmp_path / "call.ogg").stat().st_size < wav_bytes / 5
    assert not list(tmp_path.glob("**/*.tmp.*"))


def test_the_tools_run_below_the_servers_priority(tmp_path: Path) -> None:
    """espeak-ng and sox yield the CPU to the server: they start at ``render.NICE``."""
    seen = tmp_path / "nice"
    render._run(["sh", "-c", f"nice > {seen}"])
    assert int(seen.read_text()) == os.nice(0) + render.NICE


def test_joining_pieces_of_another_format_fails_clearly(tmp_path: Path) -> None:
    for name, rate in (("a", 22050), ("b", 16000)):
        with wave.open(str(tmp_path / f"{name}.wav"), "wb") as w:
            w.setparams((1, 2, rate, 0, "NONE", "not compressed"))
            w.writeframes(b"\0\0" * 100)
    with pytest.raises(render.VoiceError, match=r"b\.wav is"):
        render._join([tmp_path / "a.wav", tmp_path / "b.wav"], tmp_path / "out.wav")


def test_audio_not_used_for_the_keeping_time_is_pruned(tmp_path: Path) -> None:
    """Old announcements and sentences go; used ones (a reused recipe is touched) stay."""
    store = AudioStore(tmp_path)
    old, fresh, reused = (
        ("请A零零一号到1号窗口", None),
        ("请A零零二号到1号窗口", None),
        ("请A零零三号到2号窗口", "x"),
    )
    day = 86400
    for texts in (old, fresh, reused):
        store.url_for(*texts)
        assert store.ensure(store.digest(*texts)) is not None
    sentences = sorted((tmp_path / "speech").glob("*.wav"))
    assert len(sentences) == 4  # three Mandarin sentences and one English
    long_ago = time.time() - 10 * day
    for texts in (old, reused):
        sha = store.digest(*texts)
        for path in (tmp_path / f"{sha}.json", store.audio(sha)):
            os.utime(path, (long_ago, long_ago))
    os.utime(sentences[0], (long_ago, long_ago))
    orphan = tmp_path / ("f" * 32 + ".ogg")
    orphan.write_bytes(b"OggS")
    legacy = tmp_path / ("e" * 32 + ".wav")  # a WAV announcement of an older version
    legacy.write_bytes(b"RIFF")
    for path in (orphan, legacy):
        os.utime(path, (long_ago, long_ago))

    assert store.url_for(*reused) == f"/audio/{store.digest(*reused)}.ogg"  # a call uses it
    assert store.prune(7 * day) == 1

    assert store.ensure(store.digest(*old)) is None  # its recipe went with its audio
    assert not store.audio(store.digest(*old)).exists()
    for texts in (fresh, reused):
        assert store.ensure(store.digest(*texts)) == (store.audio(store.digest(*texts)), True)
    assert not orphan.exists() and not legacy.exists() and not sentences[0].exists()
    assert all(p.exists() for p in sentences[1:])
    assert store.prune(7 * day) == 0


def test_keeping_time_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from queue_server.config import Settings

    monkeypatch.setenv("QUEUE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("QUEUE_SECRET_KEY", "test")
    monkeypatch.delenv("QUEUE_AUDIO_KEEP_DAYS", raising=False)
    assert Settings.from_env().audio_keep_days == 7
    monkeypatch.setenv("QUEUE_AUDIO_KEEP_DAYS", "0")
    assert Settings.from_env().audio_keep_days == 0


def test_serve_prunes_every_hour_with_the_configured_keeping_time(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    from queue_server import voice

    class Stop(Exception):
        pass

    seen: list[tuple[str, float]] = []

    def sleep(seconds: float) -> None:
        seen.append(("sleep", seconds))
        raise Stop

    store = hall.app.extensions["hall_voice"]
    monkeypatch.setattr(store, "prune", lambda keep_s: seen.append(("prune", keep_s)) or 0)
    monkeypatch.setattr(socketio_of(hall.app), "sleep", sleep)
    with pytest.raises(Stop):
        voice.prune_loop(hall.app)
    assert seen == [("prune", 7 * 86400), ("sleep", voice.PRUNE_EVERY_S)]
    monkeypatch.setattr(hall.app.extensions["hall_settings"], "audio_keep_days", 0)
    voice.prune_loop(hall.app)  # returns at once: nothing is ever deleted
    assert len(seen) == 2


def test_prepared_parts_leave_a_call_only_its_sentence_to_speak(
    tmp_path: Path, runs: list[str]
) -> None:
    made = render.prepare_parts(tmp_path)
    assert sorted(p.name for p in made) == ["chime.wav", "gap1.wav", "gap2.wav", "tail.wav"]
    assert set(runs) == {"sox"}
    assert 0.8 < duration(tmp_path / "parts" / "chime.wav") < 1.0  # two notes, 0.32 + 0.55 s
    assert duration(tmp_path / "parts" / "gap2.wav") == pytest.approx(0.4, abs=0.01)
    before = len(runs)
    render.prepare_parts(tmp_path)  # kept: nothing made again
    render.render("请A零二三号到1号窗口办理", "Number A 0 2 3", tmp_path / "call.wav")
    assert runs[before:] == ["espeak-ng", "espeak-ng"]  # the two sentences, no sox


def test_serve_prepares_the_parts_and_a_failure_is_only_logged(
    hall: Hall, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from queue_server import voice

    store = hall.app.extensions["hall_voice"]
    voice.prepare_parts(hall.app)
    assert sorted(p.name for p in (store.folder / "parts").glob("*.wav")) == [
        "chime.wav", "gap1.wav", "gap2.wav", "tail.wav",
    ]  # fmt: skip

    def broken(_args: list[str]) -> None:
        raise render.VoiceError("sox is not installed")

    monkeypatch.setattr(render, "_run", broken)
    (store.folder / "parts" / "chime.wav").unlink()
    voice.prepare_parts(hall.app)  # does not raise: the first render tries again
    assert "could not prepare the announcement chime and pauses: sox is not installed" in (
        caplog.text
    )
