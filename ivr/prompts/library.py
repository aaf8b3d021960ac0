"""Menu prompts: free text and recordings → 8 kHz telephone WAVs named by content hash.

Menus carry their prompts as text per language (plus, optionally, a recording), not as
keys of ``config/prompts.yaml``. ``PromptLibrary`` turns them into media URIs:

- ``tts(text, lang)`` speaks the text with the language's espeak-ng voice into
  ``<prompts_dir>/<lang>/custom/tts/<sha>.wav`` → ``sound:custom/tts/<sha>``;
- ``audio(path, lang)`` converts a recording into
  ``<prompts_dir>/<lang>/custom/rec/<sha>.wav`` → ``sound:custom/rec/<sha>``;
- ``digits``/``number`` read a digit string back with the ``digit_*`` system prompts.

The name is the hash of everything the file is made from, so a file that exists is up to
date: editing a menu makes new files and never rewrites one a call may be playing. Same
format, atomic writes and folder layout as the system prompts (``ivr.prompts.build``),
so ``<prompts_dir>`` still mirrors Asterisk's sounds directory. Old hashes are not removed.

Safe to call from several threads (the controller builds on a worker thread): builds of one
file are serialised in-process, and the atomic rename keeps concurrent processes (``hotline
prompts build`` beside a running controller) from ever exposing a partial file.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import threading
import warnings
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from ivr.prompts.build import (
    _LANG,
    ESPEAK,
    FORMAT_VERSION,
    PromptBuildError,
    Status,
    _atomic,
    _synthesizer,
    _write_phone_wav,
    build_prompts,
    default_texts_file,
    load_texts,
)
from kernel.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

log = logging.getLogger(__name__)

HASH_CHARS = 16
DIGIT_KEYS: Mapping[str, str] = {
    **{d: f"digit_{d}" for d in "0123456789"},
    "*": "digit_star",
    "#": "digit_hash",
}


@dataclass(frozen=True)
class LibraryFile:
    """A built (or already present) prompt file and the URI that plays it."""

    language: str
    uri: str
    path: Path
    status: Status


class PromptLibrary:
    def __init__(
        self,
        prompts_dir: Path,
        voices: Mapping[str, str],
        speed: int,
        espeak: str = ESPEAK,
        default_language: str = "en",
    ) -> None:
        self.prompts_dir = prompts_dir
        self.voices = dict(voices)
        self.speed = speed
        self.espeak = espeak
        self.default_language = default_language
        self._guard = threading.Lock()
        self._building: dict[Path, threading.Lock] = {}
        # Recording hashes by (path, mtime, size, inode): a menu's recordings are not
        # re-read on every call, and a changed file is noticed.
        self._source_hashes: dict[tuple[Path, int, int, int], str] = {}
        self._warned: set[tuple[Path, object]] = set()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, texts_file: Path | None = None, espeak: str = ESPEAK
    ) -> PromptLibrary:
        """Voices and speed from ``config/prompts.yaml``, like the system prompts."""
        texts = load_texts(texts_file or default_texts_file())
        return cls(
            settings.paths.prompts_dir,
            texts.voices,
            texts.speed,
            espeak=espeak,
            default_language=settings.ivr.default_language,
        )

    # -- media URIs, as the call flows ask for them -------------------------------------

    def tts(self, text: str, language: str) -> str:
        """``sound:custom/tts/<sha>`` speaking ``text``; built on first use.

        Raises ``ValueError`` for empty text or a malformed language and
        ``PromptBuildError`` when espeak-ng is missing or has no voice for the language.
        """
        return self.build_tts(text, language).uri

    def audio(self, path: Path, language: str) -> str | None:
        """``sound:custom/rec/<sha>`` for a recording; None (logged) if it is unusable."""
        built = self.build_audio(path, language)
        return built.uri if built is not None else None

    def prompt(
        self, texts: Mapping[str, str], audio: Mapping[str, Path] | None, language: str
    ) -> tuple[str, ...]:
        """Media for a menu prompt heard by a channel in ``language``.

        The language's recording, else its text, else the default language's recording,
        else its text: each built into ``language``'s folder, because Asterisk looks
        only there. Never raises for a bad source; () when nothing is playable.
        """
        audio = audio or {}
        languages = list(dict.fromkeys([language, self.default_language]))
        for lang in languages:
            if lang in audio:
                built = self.build_audio(audio[lang], language)
                if built is not None:
                    return (built.uri,)
            text = texts.get(lang, "")
            if text.strip():
                try:
                    return (self._build_tts(text, language, voice_language=lang).uri,)
                except (PromptBuildError, OSError) as exc:
                    log.error("menu prompt in %s for a %s channel: %s", lang, language, exc)
        log.warning(
            "menu prompt has nothing playable for %s (texts: %s, audio: %s)",
            language,
            sorted(texts),
            sorted(audio),
        )
        return ()

    def digits(self, value: str, language: str) -> tuple[str, ...]:
        """One system prompt per digit, ``*`` and ``#``; other characters are skipped."""
        return tuple(f"sound:custom/{DIGIT_KEYS[ch]}" for ch in value if ch in DIGIT_KEYS)

    def number(self, n: int, language: str) -> tuple[str, ...]:
        """Digit by digit for now; spoken numbers ("thirty-two") need per-language rules."""
        return self.digits(str(n), language)

    # -- building, with the report ``hotline prompts build`` prints ----------------------

    def build_tts(self, text: str, language: str) -> LibraryFile:
        return self._build_tts(text, language, voice_language=language)

    def build_audio(self, path: Path, language: str) -> LibraryFile | None:
        """Convert ``path`` for ``language``; None with a warning naming it if unusable."""
        _check_language(language)
        try:
            st = path.stat()
            key = (path.resolve(), st.st_mtime_ns, st.st_size, st.st_ino)
            sha = self._source_hashes.get(key)
            data: bytes | None = None
            if sha is None:
                data = path.read_bytes()
                sha = _hash([FORMAT_VERSION, "rec", hashlib.sha256(data).hexdigest()])
                self._source_hashes[key] = sha
        except OSError as exc:
            self._warn_once(path, None, f"cannot read it: {exc.strerror or exc}")
            return None
        out = self.prompts_dir / language / "custom" / "rec" / f"{sha}.wav"

        def convert(target: Path) -> None:
            segment = _decode_wav(data if data is not None else path.read_bytes())
            _write_phone_wav(segment, target)

        try:
            status = self._ensure(out, convert)
        except (_NotAudio, OSError) as exc:
            self._source_hashes.pop(key, None)
            self._warn_once(path, key, str(exc))
            return None
        return LibraryFile(language, f"sound:custom/rec/{sha}", out, status)

    def _build_tts(self, text: str, language: str, *, voice_language: str) -> LibraryFile:
        _check_language(language)
        text = " ".join(text.split())
        if not text:
            raise ValueError("prompt text is empty")
        voice = self.voices.get(voice_language)
        if voice is None:
            raise PromptBuildError(f"no espeak-ng voice for language {voice_language!r}")
        sha = _hash([FORMAT_VERSION, voice, self.speed, text])
        out = self.prompts_dir / language / "custom" / "tts" / f"{sha}.wav"
        status = self._ensure(out, _synthesizer(self.espeak, voice, self.speed, text))
        if status == "built":
            log.info("menu prompt %s/tts/%s built: %r", language, sha, text)
        return LibraryFile(language, f"sound:custom/tts/{sha}", out, status)

    def _ensure(self, out: Path, make: Callable[[Path], None]) -> Status:
        # The name is the content hash, so existing means up to date: no sidecar needed.
        if out.is_file():
            return "cached"
        with self._guard:
            lock = self._building.setdefault(out, threading.Lock())
        with lock:
            if out.is_file():  # another thread built it while this one waited
                return "cached"
            out.parent.mkdir(parents=True, exist_ok=True)
            _atomic(out, make)
        return "built"

    def _warn_once(self, path: Path, version: object, problem: str) -> None:
        # Per file version: a broken recording in the live menu must not log on every call.
        with self._guard:
            if (path, version) in self._warned:
                return
            self._warned.add((path, version))
        log.warning("prompt recording %s unusable (%s); using the text instead", path, problem)


class _NotAudio(Exception):
    pass


def _check_language(language: str) -> None:
    # The language becomes a directory name: keep it from naming anything else.
    if not _LANG.match(language):
        raise ValueError(f"not a language code: {language!r}")


def _hash(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:HASH_CHARS]


def _decode_wav(data: bytes) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return AudioSegment.from_wav(io.BytesIO(data))
    except Exception as exc:  # pydub raises several unrelated types for bad input
        raise _NotAudio(f"not a readable PCM WAV file: {exc.__class__.__name__}") from None


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


# -- `hotline prompts build` ------------------------------------------------------------


def _menu_loader(name: str) -> Callable[[Settings], Iterable[tuple[str, Any]]] | None:
    """``ivr.menus.<name>`` when the menu package provides it (it is written separately)."""
    try:
        module = importlib.import_module("ivr.menus")
    except ImportError:
        return None
    found = getattr(module, name, None)
    return cast("Callable[[Settings], Iterable[tuple[str, Any]]] | None", found)


def build_menu_prompts(
    library: PromptLibrary,
    texts: Iterable[tuple[str, str]],
    audio: Iterable[tuple[str, Path]],
) -> tuple[list[LibraryFile], list[tuple[str, Path]]]:
    """Build every menu text and recording; returns the files and the unusable recordings."""
    files = [library.build_tts(text, lang) for lang, text in dict.fromkeys(texts)]
    skipped: list[tuple[str, Path]] = []
    for lang, path in dict.fromkeys(audio):
        built = library.build_audio(Path(path), lang)
        if built is None:
            skipped.append((lang, Path(path)))
        else:
            files.append(built)
    return files, skipped


def run_build(settings: Settings, *, menus: bool, out: TextIO, err: TextIO) -> int:
    """``hotline prompts build``: one line per file, a summary; then the music on hold
    (``paths.moh_dir``), its line and summary; exit status."""
    lines: list[tuple[Status, str, str, Path]] = []

    def emit(status: Status, lang: str, uri: str, path: Path) -> None:
        lines.append((status, lang, uri, path))
        print(f"{status:6}  {lang}  {uri}  {path}  {wav_seconds(path):.2f}s", file=out)

    try:
        _, report = build_prompts(settings)
        for row in report:
            emit(row.status, row.language, f"sound:custom/{row.key}", row.path)
        system_count = len(report)
        skipped: list[tuple[str, Path]] = []
        if menus:
            load_texts_fn = _menu_loader("load_live_prompt_texts")
            load_audio_fn = _menu_loader("load_live_prompt_audio")
            if load_texts_fn is None and load_audio_fn is None:
                print(
                    "hotline: notice: ivr.menus has no load_live_prompt_texts yet; "
                    "menu prompts skipped",
                    file=err,
                )
            else:
                try:
                    menu_texts = list(load_texts_fn(settings)) if load_texts_fn else []
                    menu_audio = list(load_audio_fn(settings)) if load_audio_fn else []
                except Exception as exc:  # whatever the menu loader reports, on one line
                    print(f"hotline: error: cannot load the live menu: {exc}", file=err)
                    return 1
                library = PromptLibrary.from_settings(settings)
                files, skipped = build_menu_prompts(library, menu_texts, menu_audio)
                for f in files:
                    emit(f.status, f.language, f.uri, f.path)
                for lang, path in skipped:
                    print(f"hotline: warning: {lang}: recording {path} unusable", file=err)
    except PromptBuildError as exc:
        print(f"hotline: error: {exc}", file=err)
        return 1
    built = sum(1 for row in lines if row[0] == "built")
    menu_count = len(lines) - system_count
    print(
        f"prompts: {built} built, {len(lines) - built} cached, {len(skipped)} skipped "
        f"({system_count} system, {menu_count} menu) in {settings.paths.prompts_dir}",
        file=out,
    )
    return _build_moh(settings, out=out, err=err)


def _build_moh(settings: Settings, *, out: TextIO, err: TextIO) -> int:
    """The music-on-hold file(s) of musiconhold.conf's default class, after the prompts."""
    from ivr.prompts.moh import MOH_CLASS, build_moh

    moh_dir = settings.paths.moh_dir
    try:
        files = build_moh(moh_dir)
    except OSError as exc:
        print(f"hotline: error: music on hold: cannot write {moh_dir}: {exc}", file=err)
        return 1
    for f in files:
        print(f"{f.status:6}  moh  {MOH_CLASS}  {f.path}  {f.seconds:.2f}s", file=out)
    built = sum(1 for f in files if f.status == "built")
    print(
        f"music on hold: {built} built, {len(files) - built} cached in {moh_dir} "
        f"(musiconhold.conf class {MOH_CLASS})",
        file=out,
    )
    return 0
