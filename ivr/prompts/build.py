"""System prompts: texts in ``config/prompts.yaml`` → 8 kHz telephone WAVs → ARI media URIs.

Each prompt is built once per language into ``<paths.prompts_dir>/<lang>/custom/<key>.wav``
(8000 Hz, mono, 16-bit PCM: what Asterisk plays without transcoding to G.711) and played
as ``sound:custom/<key>``; Asterisk picks the ``<lang>`` folder from the channel language.
That folder layout is the one Asterisk's ``sounds/`` directory uses, so the tree can be
copied or symlinked there as it is (docs/asterisk.md).

Sources, in order: a recording at ``<prompts_dir>/<lang>/override/<key>.wav`` (any WAV,
converted); else the language's text spoken by espeak-ng; else, when the language has no
text for the key, the default language's text. So every configured language has every
file and Asterisk never falls through to a missing sound.

Builds are cached: a sidecar ``<key>.wav.sha256`` holds the hash of what the file was made
from (text, voice, speed, format version, or the override's bytes) and the file is rebuilt
only when that changes. Files are written to a temporary name and renamed, so Asterisk
never plays a half-written prompt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import uuid
import warnings
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from kernel.settings import Settings

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent and about audioop's deprecation; only
    # its built-in WAV reader is used here, which needs neither.
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.effects import normalize

log = logging.getLogger(__name__)

# Bump when the conversion below changes: every cached prompt is then rebuilt.
FORMAT_VERSION = 1
SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
CHANNELS = 1
# Peak level after conversion; a little headroom keeps G.711 encoding from clipping.
HEADROOM_DB = 3.0
DEFAULT_SPEED = 150
ESPEAK = "espeak-ng"
ESPEAK_MISSING = "espeak-ng not installed; run ./bootstrap install"

_KEY = re.compile(r"^[a-z0-9_]+$")
_LANG = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]+)*$")

Status = Literal["built", "cached"]
Source = Literal["tts", "fallback", "override"]


class PromptBuildError(RuntimeError):
    """A prompt could not be built; the message says what to fix."""


@dataclass(frozen=True)
class PromptTexts:
    """The parsed prompts file."""

    source: Path
    speed: int
    voices: Mapping[str, str]
    prompts: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class PromptBuild:
    """One line of the build report."""

    key: str
    language: str
    path: Path
    status: Status
    source: Source


class PromptCatalog:
    """The built prompts, as the call flows ask for them (``ivr.call.service.Prompts``)."""

    def __init__(self, files: Mapping[tuple[str, str], Path], default_language: str) -> None:
        self._files = MappingProxyType(dict(files))
        self._keys = frozenset(key for key, _ in files)
        self.default_language = default_language

    @property
    def files(self) -> Mapping[tuple[str, str], Path]:
        """``(key, language)`` → the WAV file under ``prompts_dir``."""
        return self._files

    @property
    def keys(self) -> frozenset[str]:
        return self._keys

    def path(self, key: str, language: str) -> Path:
        """The file a channel in ``language`` hears; the default language's when not built."""
        if key not in self._keys:
            raise KeyError(key)
        found = self._files.get((key, language))
        return found if found is not None else self._files[(key, self.default_language)]

    def media(self, key: str, language: str) -> tuple[str, ...]:
        """ARI media URIs for ``key``; raises ``KeyError`` for a prompt that does not exist.

        The URI names no language: Asterisk resolves ``sound:custom/<key>`` in the
        channel language's folder, and the build put a file (the language's own or the
        default language's text) there for every configured language.
        """
        self.path(key, language)
        return (f"sound:custom/{key}",)


def default_texts_file() -> Path:
    """``config/prompts.yaml`` of the working directory (like ``config/hotline.toml``),
    else the one shipped beside the package."""
    local = Path("config/prompts.yaml")
    if local.exists():
        return local
    return Path(__file__).resolve().parent.parent / "config" / "prompts.yaml"


def load_texts(path: Path) -> PromptTexts:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptBuildError(f"{path}: cannot read prompts file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PromptBuildError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PromptBuildError(f"{path}: expected a mapping with 'voices' and 'prompts'")

    def fail(where: str, problem: str) -> PromptBuildError:
        return PromptBuildError(f"{path}: {where}: {problem}")

    speed = data.get("speed", DEFAULT_SPEED)
    if not isinstance(speed, int) or isinstance(speed, bool) or not 80 <= speed <= 450:
        raise fail("speed", f"must be words per minute between 80 and 450 (got {speed!r})")
    voices = data.get("voices")
    if not isinstance(voices, dict) or not voices:
        raise fail("voices", "must map each language to an espeak-ng voice")
    for lang, voice in voices.items():
        if not isinstance(lang, str) or not _LANG.match(lang):
            raise fail(f"voices.{lang}", "not a language code")
        if not isinstance(voice, str) or not voice.strip():
            raise fail(f"voices.{lang}", "must be an espeak-ng voice name")
    prompts = data.get("prompts")
    if not isinstance(prompts, dict) or not prompts:
        raise fail("prompts", "must map prompt keys to texts per language")
    parsed: dict[str, dict[str, str]] = {}
    for key, texts in prompts.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise fail(f"prompts.{key}", "key must be lower-case letters, digits and '_'")
        if not isinstance(texts, dict) or not texts:
            raise fail(f"prompts.{key}", "must map languages to texts")
        for lang, text in texts.items():
            if not isinstance(lang, str) or not _LANG.match(lang):
                raise fail(f"prompts.{key}.{lang}", "not a language code")
            if not isinstance(text, str) or not text.strip():
                raise fail(f"prompts.{key}.{lang}", "must be non-empty text")
        parsed[key] = {lang: " ".join(text.split()) for lang, text in texts.items()}
    return PromptTexts(
        source=path,
        speed=speed,
        voices={lang: voice.strip() for lang, voice in voices.items()},
        prompts=parsed,
    )


def build_prompts(
    settings: Settings,
    *,
    texts_file: Path | None = None,
    espeak: str = ESPEAK,
) -> tuple[PromptCatalog, list[PromptBuild]]:
    """Build (or reuse) every system prompt for every configured language.

    ``espeak`` is the espeak-ng executable; it is needed only when something must be
    synthesised, so a deployment with up-to-date prompts runs without it.
    """
    texts = load_texts(texts_file or default_texts_file())
    default = settings.ivr.default_language
    languages = list(dict.fromkeys([default, *settings.ivr.languages]))
    root = settings.paths.prompts_dir
    files: dict[tuple[str, str], Path] = {}
    report: list[PromptBuild] = []
    for key, by_lang in texts.prompts.items():
        if default not in by_lang:
            raise PromptBuildError(
                f"{texts.source}: prompts.{key}: no text for the default language {default!r}"
            )
        for lang in languages:
            out = root / lang / "custom" / f"{key}.wav"
            override = root / lang / "override" / f"{key}.wav"
            source: Source
            make: Callable[[Path], None]
            if override.is_file():
                source = "override"
                digest = _digest({"override": hashlib.sha256(override.read_bytes()).hexdigest()})
                make = _converter(override)
            else:
                source = "tts" if lang in by_lang else "fallback"
                text_lang = lang if lang in by_lang else default
                voice = texts.voices.get(text_lang)
                if voice is None:
                    raise PromptBuildError(
                        f"{texts.source}: voices: no espeak-ng voice for language {text_lang!r}"
                    )
                text = by_lang[text_lang]
                digest = _digest({"text": text, "voice": voice, "speed": texts.speed})
                make = _synthesizer(espeak, voice, texts.speed, text)
            status = _ensure(out, digest, make)
            if status == "built":
                log.info("prompt %s/%s built from %s: %s", lang, key, source, out)
            files[(key, lang)] = out
            report.append(PromptBuild(key, lang, out, status, source))
    return PromptCatalog(files, default), report


def system_prompts(settings: Settings) -> PromptCatalog:
    """Build the prompts from the default ``config/prompts.yaml`` and return the catalog."""
    catalog, report = build_prompts(settings)
    built = sum(1 for row in report if row.status == "built")
    log.info("system prompts: %d built, %d up to date", built, len(report) - built)
    return catalog


def _digest(what: Mapping[str, Any]) -> str:
    payload = {"format": FORMAT_VERSION, "rate": SAMPLE_RATE, **what}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _ensure(out: Path, digest: str, make: Callable[[Path], None]) -> Status:
    """Rebuild ``out`` unless its sidecar says it was made from exactly ``digest``."""
    sidecar = out.with_name(out.name + ".sha256")
    try:
        if out.is_file() and sidecar.read_text(encoding="ascii").strip() == digest:
            return "cached"
    except OSError:
        pass  # no sidecar: build
    out.parent.mkdir(parents=True, exist_ok=True)
    # The WAV goes first: a crash before the sidecar is written only costs a rebuild.
    _atomic(out, make)
    _atomic(sidecar, lambda tmp: _write_text(tmp, digest + "\n"))
    return "built"


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    # A dot-name without the .wav suffix: never listed or played by Asterisk meanwhile.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text(target: Path, text: str) -> None:
    target.write_text(text, encoding="ascii")


def _write_phone_wav(segment: Any, target: Path) -> None:
    segment = segment.set_channels(CHANNELS).set_sample_width(SAMPLE_WIDTH)
    segment = segment.set_frame_rate(SAMPLE_RATE)
    segment = normalize(segment, headroom=HEADROOM_DB)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(segment.raw_data)


def _read_wav(path: Path) -> Any:
    # For WAVs its own reader rejects, pydub looks for ffprobe/ffmpeg (warning when absent)
    # before failing; the failure is what matters here.
    with path.open("rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return AudioSegment.from_wav(fh)


def _converter(source: Path) -> Callable[[Path], None]:
    def convert(target: Path) -> None:
        try:
            segment = _read_wav(source)
        except Exception as exc:  # pydub raises several unrelated types for bad input
            raise PromptBuildError(
                f"{source}: not a readable PCM WAV file ({exc.__class__.__name__}); "
                "export it as 16-bit PCM WAV"
            ) from None
        _write_phone_wav(segment, target)

    return convert


def _synthesizer(espeak: str, voice: str, speed: int, text: str) -> Callable[[Path], None]:
    def synthesize(target: Path) -> None:
        exe = shutil.which(espeak)
        if exe is None:
            raise PromptBuildError(ESPEAK_MISSING)
        with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
            raw = Path(tmp) / "espeak.wav"
            # A file, not --stdout: espeak-ng cannot seek stdout, so the sizes in that WAV
            # header are bogus. The text goes through stdin so it is never taken as options.
            result = subprocess.run(
                [exe, "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=60,
                check=False,
            )
            if result.returncode != 0 or not raw.is_file():
                problem = result.stderr.decode("utf-8", "replace").strip() or "no output"
                raise PromptBuildError(f"espeak-ng -v {voice} failed: {problem}")
            segment = _read_wav(raw)
        _write_phone_wav(segment, target)

    return synthesize
