"""System prompts built with the real espeak-ng into 8 kHz telephone WAVs."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest
import yaml

from ivr.prompts.build import (
    ESPEAK_MISSING,
    PromptBuildError,
    build_prompts,
    load_texts,
    system_prompts,
)
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


def write_texts(path: Path, prompts: dict[str, dict[str, str]]) -> Path:
    doc = {"speed": 160, "voices": {"en": "en-us", "zh": "cmn"}, "prompts": prompts}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def wav_info(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return rate, wav.getnchannels(), wav.getsampwidth(), wav.getnframes() / rate


def assert_phone_wav(path: Path) -> None:
    rate, channels, width, seconds = wav_info(path)
    assert (rate, channels, width) == (8000, 1, 2), path
    assert seconds > 0.5, f"{path}: only {seconds:.2f} s"


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    return write_texts(
        tmp_path / "prompts.yaml",
        {
            "greeting": {"en": "Welcome to the hotline.", "zh": "欢迎致电服务热线。"},
            "goodbye": {"en": "Thank you for calling. Goodbye."},  # no zh: falls back
        },
    )


def test_shipped_prompts_build_in_both_languages(tmp_path: Path) -> None:
    texts = load_texts(SHIPPED)
    for key in ("greeting", "apology_technical", "goodbye", "fallback_busy"):
        assert set(texts.prompts[key]) >= {"en", "zh"}, key
    assert texts.prompts["greeting"]["en"] == "Welcome to the hotline. Thank you for calling."
    assert any("\u4e00" <= ch <= "\u9fff" for ch in texts.prompts["greeting"]["zh"])

    catalog, report = build_prompts(settings_for(tmp_path / "prompts"), texts_file=SHIPPED)
    assert {(row.key, row.language) for row in report} == {
        (key, lang) for key in texts.prompts for lang in ("en", "zh")
    }
    assert {row.status for row in report} == {"built"}
    assert {row.source for row in report} == {"tts"}
    for (key, lang), path in catalog.files.items():
        assert path == tmp_path / "prompts" / lang / "custom" / f"{key}.wav"
        assert_phone_wav(path)
    # The same text in two languages gives two different recordings.
    en, zh = catalog.files[("greeting", "en")], catalog.files[("greeting", "zh")]
    assert en.read_bytes() != zh.read_bytes()


def test_second_build_is_cached_and_leaves_files_alone(tmp_path: Path, texts: Path) -> None:
    settings = settings_for(tmp_path / "prompts")
    first, report1 = build_prompts(settings, texts_file=texts)
    assert [row.status for row in report1] == ["built"] * 4
    mtimes = {p: p.stat().st_mtime_ns for p in first.files.values()}

    _, report2 = build_prompts(settings, texts_file=texts)
    assert [row.status for row in report2] == ["cached"] * 4
    assert {p: p.stat().st_mtime_ns for p in first.files.values()} == mtimes
    # No temporary files are left beside the prompts.
    leftovers = [p.name for p in (tmp_path / "prompts").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_changed_text_rebuilds_only_that_prompt(tmp_path: Path, texts: Path) -> None:
    settings = settings_for(tmp_path / "prompts")
    catalog, _ = build_prompts(settings, texts_file=texts)
    greeting_en = catalog.files[("greeting", "en")]
    before = greeting_en.read_bytes()
    before_seconds = wav_info(greeting_en)[3]

    write_texts(
        texts,
        {
            "greeting": {
                "en": "Welcome to the hotline. Your call is important to us, "
                "please stay on the line.",
                "zh": "欢迎致电服务热线。",
            },
            "goodbye": {"en": "Thank you for calling. Goodbye."},
        },
    )
    _, report = build_prompts(settings, texts_file=texts)
    status = {(row.key, row.language): row.status for row in report}
    assert status == {
        ("greeting", "en"): "built",
        ("greeting", "zh"): "cached",
        ("goodbye", "en"): "cached",
        ("goodbye", "zh"): "cached",
    }
    assert greeting_en.read_bytes() != before
    assert wav_info(greeting_en)[3] > before_seconds + 1.0
    assert_phone_wav(greeting_en)


def test_deleted_file_is_rebuilt_even_with_its_sidecar(tmp_path: Path, texts: Path) -> None:
    settings = settings_for(tmp_path / "prompts")
    catalog, _ = build_prompts(settings, texts_file=texts)
    catalog.files[("goodbye", "en")].unlink()
    _, report = build_prompts(settings, texts_file=texts)
    assert [r.status for r in report if (r.key, r.language) == ("goodbye", "en")] == ["built"]
    assert_phone_wav(catalog.files[("goodbye", "en")])


def test_media_uris_unknown_keys_and_language_fallback(tmp_path: Path, texts: Path) -> None:
    catalog, report = build_prompts(settings_for(tmp_path / "prompts"), texts_file=texts)
    assert catalog.media("greeting", "en") == ("sound:custom/greeting",)
    assert catalog.media("greeting", "zh") == ("sound:custom/greeting",)
    assert catalog.media("goodbye", "fr") == ("sound:custom/goodbye",)
    with pytest.raises(KeyError):
        catalog.media("no_such_prompt", "en")
    # zh has no goodbye text: its zh file is the English text, so a zh channel still
    # hears it from sounds/zh/custom/.
    sources = {(r.key, r.language): r.source for r in report}
    assert sources[("goodbye", "zh")] == "fallback"
    assert sources[("greeting", "zh")] == "tts"
    goodbye_zh = catalog.files[("goodbye", "zh")]
    assert goodbye_zh == tmp_path / "prompts" / "zh" / "custom" / "goodbye.wav"
    assert goodbye_zh.read_bytes() == catalog.files[("goodbye", "en")].read_bytes()
    assert catalog.path("goodbye", "fr") == catalog.files[("goodbye", "en")]


def test_override_recording_wins_and_is_converted(tmp_path: Path, texts: Path) -> None:
    prompts = tmp_path / "prompts"
    settings = settings_for(prompts)
    catalog, _ = build_prompts(settings, texts_file=texts)
    tts = catalog.files[("greeting", "en")].read_bytes()

    # A "studio" recording: 44.1 kHz stereo, 1.5 s of a tone.
    override = prompts / "en" / "override" / "greeting.wav"
    override.parent.mkdir(parents=True)
    rate, seconds = 44100, 1.5
    frame = (3000).to_bytes(2, "little", signed=True) * 2
    silence = (0).to_bytes(2, "little", signed=True) * 2
    with wave.open(str(override), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(
            b"".join(frame if i % 100 < 50 else silence for i in range(int(rate * seconds)))
        )

    _, report = build_prompts(settings, texts_file=texts)
    row = next(r for r in report if (r.key, r.language) == ("greeting", "en"))
    assert (row.source, row.status) == ("override", "built")
    out = catalog.files[("greeting", "en")]
    assert out.read_bytes() != tts
    rate_out, channels, width, seconds_out = wav_info(out)
    assert (rate_out, channels, width) == (8000, 1, 2)
    assert seconds_out == pytest.approx(seconds, abs=0.01)
    # The other language keeps its synthesised prompt; a rerun uses the cache.
    assert next(r for r in report if (r.key, r.language) == ("greeting", "zh")).source == "tts"
    _, again = build_prompts(settings, texts_file=texts)
    assert next(r for r in again if (r.key, r.language) == ("greeting", "en")).status == "cached"

    # Removing the override goes back to the synthetic voice.
    override.unlink()
    _, back = build_prompts(settings, texts_file=texts)
    row = next(r for r in back if (r.key, r.language) == ("greeting", "en"))
    assert (row.source, row.status) == ("tts", "built")
    assert out.read_bytes() == tts


def test_unreadable_override_is_a_clear_error(tmp_path: Path, texts: Path) -> None:
    override = tmp_path / "prompts" / "zh" / "override" / "goodbye.wav"
    override.parent.mkdir(parents=True)
    override.write_bytes(b"not audio at all")
    with pytest.raises(PromptBuildError, match=r"goodbye\.wav: not a readable PCM WAV"):
        build_prompts(settings_for(tmp_path / "prompts"), texts_file=texts)


def test_missing_espeak_is_reported_with_the_fix(tmp_path: Path, texts: Path) -> None:
    settings = settings_for(tmp_path / "prompts")
    with pytest.raises(PromptBuildError) as err:
        build_prompts(settings, texts_file=texts, espeak="espeak-ng-not-here")
    assert str(err.value) == ESPEAK_MISSING == "espeak-ng not installed; run ./bootstrap install"
    # Once built, prompts need no espeak-ng: a deployment can ship them prebuilt.
    build_prompts(settings, texts_file=texts)
    _, report = build_prompts(settings, texts_file=texts, espeak="espeak-ng-not-here")
    assert {r.status for r in report} == {"cached"}


def test_unknown_voice_is_an_error_naming_it(tmp_path: Path) -> None:
    texts = tmp_path / "p.yaml"
    texts.write_text(
        "voices: {en: nosuchvoice, zh: cmn}\nprompts: {greeting: {en: Hello there.}}\n",
        encoding="utf-8",
    )
    with pytest.raises(PromptBuildError, match="espeak-ng -v nosuchvoice failed"):
        build_prompts(settings_for(tmp_path / "prompts"), texts_file=texts)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- a list\n", "expected a mapping"),
        ("voices: {en: en-us}\nprompts: {Bad-Key: {en: x}}\n", "prompts.Bad-Key: key must"),
        ("voices: {en: en-us}\nprompts: {greeting: {en: ''}}\n", "prompts.greeting.en: must be"),
        ("voices: {en: en-us}\nprompts: {greeting: {zh: 你好}}\n", "no text for the default"),
        (
            "voices: {zh: cmn}\nprompts: {greeting: {en: Hi}}\n",
            "no espeak-ng voice for language 'en'",
        ),
        ("speed: 5\nvoices: {en: en-us}\nprompts: {greeting: {en: Hi}}\n", "speed: must be"),
    ],
)
def test_bad_prompt_files_are_rejected_with_the_place(
    tmp_path: Path, body: str, message: str
) -> None:
    texts = tmp_path / "p.yaml"
    texts.write_text(body, encoding="utf-8")
    with pytest.raises(PromptBuildError, match=message):
        build_prompts(settings_for(tmp_path / "prompts"), texts_file=texts)


def test_system_prompts_uses_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the repository root, as `hotline run` is started, config/prompts.yaml is found.
    monkeypatch.chdir(ROOT)
    catalog = system_prompts(settings_for(tmp_path / "prompts"))
    assert set(load_texts(SHIPPED).prompts) == catalog.keys
    assert catalog.media("apology_technical", "zh") == ("sound:custom/apology_technical",)
