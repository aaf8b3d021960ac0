"""Menu prompts (free text, recordings, digit readback) built with the real espeak-ng."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest

from hotline.asterisk_conf import load_conf, moh_classes
from ivr.prompts.build import ESPEAK_MISSING, PromptBuildError, build_prompts
from ivr.prompts.library import PromptLibrary, build_menu_prompts, wav_seconds
from kernel.settings import IvrSettings, PathSettings, Settings

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "config" / "prompts.yaml"

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (./bootstrap install)"
)


def settings_for(prompts_dir: Path) -> Settings:
    return Settings(
        paths=PathSettings(prompts_dir=prompts_dir),
        ivr=IvrSettings(default_language="en", languages=("zh", "en")),
    )


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    return tmp_path / "prompts"


@pytest.fixture
def library(prompts_dir: Path) -> PromptLibrary:
    return PromptLibrary.from_settings(settings_for(prompts_dir), texts_file=SHIPPED)


def file_of(prompts_dir: Path, language: str, uri: str) -> Path:
    """Where Asterisk finds ``uri`` for a channel in ``language``."""
    assert uri.startswith("sound:"), uri
    return prompts_dir / language / f"{uri.removeprefix('sound:')}.wav"


def assert_phone_wav(path: Path, min_seconds: float = 0.3) -> None:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    assert wav_seconds(path) > min_seconds, path


def write_studio_wav(path: Path, seconds: float = 1.2) -> None:
    """44.1 kHz stereo, a square-ish tone: what a recording studio delivers."""
    rate = 44100
    loud = (4000).to_bytes(2, "little", signed=True) * 2
    quiet = (0).to_bytes(2, "little", signed=True) * 2
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(
            b"".join(loud if i % 90 < 45 else quiet for i in range(int(rate * seconds)))
        )


def test_tts_builds_a_phone_wav_named_by_hash(library: PromptLibrary, prompts_dir: Path) -> None:
    uri = library.tts("Press 1 for billing, press 2 for technical support.", "en")
    assert uri.startswith("sound:custom/tts/")
    sha = uri.removeprefix("sound:custom/tts/")
    assert len(sha) == 16 and all(c in "0123456789abcdef" for c in sha)
    path = file_of(prompts_dir, "en", uri)
    assert path == prompts_dir / "en" / "custom" / "tts" / f"{sha}.wav"
    assert_phone_wav(path, min_seconds=1.0)


def test_same_text_is_cached_and_other_text_is_another_file(
    library: PromptLibrary, prompts_dir: Path
) -> None:
    first = library.build_tts("For opening hours, press 3.", "en")
    assert first.status == "built"
    mtime = first.path.stat().st_mtime_ns

    # Reflowed whitespace (as YAML folding produces) is the same prompt.
    again = library.build_tts("  For opening hours,\n press 3. ", "en")
    assert (again.status, again.uri, again.path) == ("cached", first.uri, first.path)
    assert first.path.stat().st_mtime_ns == mtime
    # A fresh library (a restarted controller) finds the file too.
    fresh = PromptLibrary.from_settings(settings_for(prompts_dir), texts_file=SHIPPED)
    assert fresh.build_tts("For opening hours, press 3.", "en").status == "cached"

    other = library.build_tts("For opening hours, press 4.", "en")
    assert other.status == "built"
    assert other.uri != first.uri
    assert other.path.read_bytes() != first.path.read_bytes()
    # Voice and speed are part of the name: a slower voice is a new file.
    slower = PromptLibrary(prompts_dir, library.voices, speed=120)
    assert slower.tts("For opening hours, press 3.", "en") != first.uri


def test_mandarin_text_with_the_cmn_voice(library: PromptLibrary, prompts_dir: Path) -> None:
    uri = library.tts("账单查询请按1，技术支持请按2。", "zh")
    path = file_of(prompts_dir, "zh", uri)
    assert_phone_wav(path, min_seconds=1.0)
    # Same text in another language folder and voice: another file.
    assert library.tts("账单查询请按1，技术支持请按2。", "en") != uri


def test_empty_text_and_bad_language_are_rejected(library: PromptLibrary) -> None:
    for text in ("", "   \n "):
        with pytest.raises(ValueError, match="empty"):
            library.tts(text, "en")
    with pytest.raises(ValueError, match="language"):
        library.tts("Hello", "../etc")
    with pytest.raises(PromptBuildError, match="no espeak-ng voice for language 'fr'"):
        library.tts("Bonjour", "fr")


def test_missing_espeak_is_a_build_error(prompts_dir: Path) -> None:
    library = PromptLibrary(prompts_dir, {"en": "en-us"}, 150, espeak="espeak-ng-not-here")
    with pytest.raises(PromptBuildError, match=ESPEAK_MISSING):
        library.tts("Hello there.", "en")
    assert not any(prompts_dir.rglob("*.wav"))


def test_recording_is_converted_and_cached(
    library: PromptLibrary, prompts_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "studio" / "welcome.wav"
    write_studio_wav(source, seconds=1.2)
    built = library.build_audio(source, "zh")
    assert built is not None and built.status == "built"
    assert built.uri.startswith("sound:custom/rec/")
    assert built.path == file_of(prompts_dir, "zh", built.uri)
    assert built.path.parent == prompts_dir / "zh" / "custom" / "rec"
    assert_phone_wav(built.path)
    assert wav_seconds(built.path) == pytest.approx(1.2, abs=0.01)
    assert library.audio(source, "zh") == built.uri
    assert library.build_audio(source, "zh").status == "cached"  # type: ignore[union-attr]

    # A new take at the same path is a new file; the old one stays for calls playing it.
    write_studio_wav(source, seconds=2.0)
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    retake = library.build_audio(source, "zh")
    assert retake is not None and retake.status == "built" and retake.uri != built.uri
    assert wav_seconds(retake.path) == pytest.approx(2.0, abs=0.01)
    assert built.path.is_file()


def test_unusable_recordings_warn_and_prompt_falls_back_to_tts(
    library: PromptLibrary, prompts_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nope.wav"
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF this is not audio")
    caplog.set_level(logging.WARNING, logger="ivr.prompts.library")

    assert library.audio(missing, "en") is None
    assert library.audio(broken, "en") is None
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(missing) in m for m in warned), warned
    assert any(str(broken) in m and "not a readable" in m for m in warned), warned
    assert not list(prompts_dir.rglob("*.wav"))

    texts = {"en": "Welcome to the billing line."}
    media = library.prompt(texts, {"en": broken}, "en")
    assert media == (library.tts("Welcome to the billing line.", "en"),)
    assert file_of(prompts_dir, "en", media[0]).is_file()
    # The same broken file does not log again on every call.
    count = len(caplog.records)
    library.prompt(texts, {"en": broken}, "en")
    assert len(caplog.records) == count


def test_prompt_prefers_recording_then_text_then_default_language(
    library: PromptLibrary, prompts_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = tmp_path / "zh.wav"
    write_studio_wav(recording)
    texts = {"en": "Press 1 for sales.", "zh": "销售请按1。"}

    (rec,) = library.prompt(texts, {"zh": recording}, "zh")
    assert rec.startswith("sound:custom/rec/")
    assert file_of(prompts_dir, "zh", rec).is_file()
    assert library.prompt(texts, {"zh": recording}, "en") == (library.tts(texts["en"], "en"),)
    assert library.prompt(texts, None, "zh") == (library.tts(texts["zh"], "zh"),)

    # No zh text: the English text, spoken by the English voice, in the zh folder, because
    # a zh channel looks for sound:custom/tts/<sha> only under zh/.
    (fallback,) = library.prompt({"en": "Press 1 for sales."}, None, "zh")
    assert fallback == library.tts("Press 1 for sales.", "en")
    zh_file = file_of(prompts_dir, "zh", fallback)
    assert zh_file.read_bytes() == file_of(prompts_dir, "en", fallback).read_bytes()

    caplog.set_level(logging.WARNING, logger="ivr.prompts.library")
    assert library.prompt({"zh": "只有中文"}, None, "fr") == ()
    assert library.prompt({}, None, "en") == ()
    assert any("nothing playable" in r.getMessage() for r in caplog.records)


def test_digits_use_the_system_digit_prompts(library: PromptLibrary, prompts_dir: Path) -> None:
    assert library.digits("12#", "en") == (
        "sound:custom/digit_1",
        "sound:custom/digit_2",
        "sound:custom/digit_hash",
    )
    assert library.digits("0-9*x", "zh") == (
        "sound:custom/digit_0",
        "sound:custom/digit_9",
        "sound:custom/digit_star",
    )
    assert library.digits("", "en") == ()
    assert library.number(305, "en") == library.digits("305", "en")

    build_prompts(settings_for(prompts_dir), texts_file=SHIPPED)
    every_key = library.digits("0123456789*#", "en")
    assert len(every_key) == 12
    for lang in ("en", "zh"):
        files = [file_of(prompts_dir, lang, uri) for uri in every_key]
        for path in files:
            assert_phone_wav(path)
        assert len({p.read_bytes() for p in files}) == 12  # twelve different words
    for lang in ("en", "zh"):
        assert_phone_wav(file_of(prompts_dir, lang, "sound:custom/you_entered"))


def test_concurrent_builds_of_one_text_make_one_valid_file(
    library: PromptLibrary, prompts_dir: Path
) -> None:
    text = "Your call is important to us. Please stay on the line."
    start = threading.Barrier(4)
    uris: list[str] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            start.wait()
            uris.append(library.tts(text, "en"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(uris) == 4 and len(set(uris)) == 1
    files = [p for p in prompts_dir.rglob("*") if p.is_file()]
    assert files == [file_of(prompts_dir, "en", uris[0])]  # no temporary files left over
    assert_phone_wav(files[0], min_seconds=2.0)

    # Two libraries (two processes' worth of state) racing still leave one whole file.
    other = PromptLibrary(prompts_dir, library.voices, library.speed)
    text2 = "Thank you for waiting."
    results: list[str] = []
    pair = threading.Barrier(2)

    def race(lib: PromptLibrary) -> None:
        pair.wait()
        results.append(lib.tts(text2, "en"))

    racers = [threading.Thread(target=race, args=(lib,)) for lib in (library, other)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert len(set(results)) == 1 and len(results) == 2
    assert_phone_wav(file_of(prompts_dir, "en", results[0]), min_seconds=0.5)
    assert not [p for p in prompts_dir.rglob(".*")]


def test_build_menu_prompts_reports_files_and_skips_bad_recordings(
    library: PromptLibrary, prompts_dir: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.wav"
    write_studio_wav(good)
    texts = [("en", "Press 1 for sales."), ("zh", "销售请按1。"), ("en", "Press 1 for sales.")]
    audio = [("en", good), ("zh", tmp_path / "missing.wav")]
    files, skipped = build_menu_prompts(library, texts, audio)
    assert [(f.language, f.status) for f in files] == [
        ("en", "built"),
        ("zh", "built"),
        ("en", "built"),
    ]
    assert files[0].uri == library.tts("Press 1 for sales.", "en")
    assert files[2].uri.startswith("sound:custom/rec/")
    assert skipped == [("zh", tmp_path / "missing.wav")]
    again, _ = build_menu_prompts(library, texts, audio)
    assert {f.status for f in again} == {"cached"}


def run_cli(tmp_path: Path, prompts_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "hotline.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {
        "HOTLINE_CONFIG": str(config),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
        "HOTLINE_PATHS_MOH_DIR": str(tmp_path / "moh"),
    }
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "prompts", "build", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_prompts_build_lists_every_system_prompt(tmp_path: Path, prompts_dir: Path) -> None:
    from ivr.prompts.build import load_texts

    keys = set(load_texts(SHIPPED).prompts)
    result = run_cli(tmp_path, prompts_dir)
    assert result.returncode == 0, result.stderr
    # The prompts, their summary, then the music on hold and its summary.
    lines = result.stdout.splitlines()[:-2]
    rows = [line.split() for line in lines[:-1]]
    expected = {(f"sound:custom/{key}", lang) for key in keys for lang in ("en", "zh")}
    assert {(row[2], row[1]) for row in rows} == expected
    assert len(rows) == len(expected)
    for status, lang, uri, path, seconds in rows:
        assert status == "built"
        assert Path(path) == file_of(prompts_dir, lang, uri)
        assert_phone_wav(Path(path))
        assert float(seconds.removesuffix("s")) == pytest.approx(wav_seconds(Path(path)), abs=0.01)
    assert lines[-1].startswith(f"prompts: {len(expected)} built, 0 cached")
    moh_dir = tmp_path / "moh"
    moh_line, moh_summary = result.stdout.splitlines()[-2:]
    status, what, moh_class, path, seconds = moh_line.split()
    assert (status, what, moh_class) == ("built", "moh", "default")
    assert Path(path).parent == moh_dir and float(seconds.removesuffix("s")) >= 4
    assert moh_summary == (
        f"music on hold: 1 built, 0 cached in {moh_dir} (musiconhold.conf class default)"
    )
    # What musiconhold.conf's default class plays, once its folder under Asterisk's data
    # directory is linked to paths.moh_dir (docs/asterisk.md): 8 kHz mono, a few seconds.
    default = moh_classes(load_conf(ROOT / "config" / "asterisk" / "musiconhold.conf"))["default"]
    data_dir = tmp_path / "asterisk-data"
    data_dir.mkdir()
    default.folder(data_dir).symlink_to(moh_dir, target_is_directory=True)
    played = default.files(data_dir)
    assert [p.name for p in played] == [Path(path).name]
    for sound in played:
        assert_phone_wav(sound, min_seconds=4)

    again = run_cli(tmp_path, prompts_dir)
    assert again.returncode == 0, again.stderr
    again_lines = again.stdout.splitlines()
    assert {line.split()[0] for line in again_lines[:-3]} == {"cached"}
    assert again_lines[-3].startswith(f"prompts: 0 built, {len(expected)} cached")
    assert again_lines[-2].split()[:3] == ["cached", "moh", "default"]


def test_cli_without_espeak_is_one_line_and_exit_1(tmp_path: Path, prompts_dir: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    # A PATH with Python but no espeak-ng.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env |= {
        "HOTLINE_CONFIG": str(config),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
        "HOTLINE_PATHS_MOH_DIR": str(tmp_path / "moh"),
        "PATH": str(bin_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "prompts", "build"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"hotline: error: {ESPEAK_MISSING}"
