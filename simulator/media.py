"""Media for the simulator: where a ``sound:`` URI lives and how long it plays.

Durations come from the audio files themselves (frames ÷ rate of the WAV), never
from constants: a prompt that is 2.3 s long plays for 2.3 s. A URI whose file does
not exist fails the way Asterisk's does: the playback starts and ends ``failed``.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 8000


@dataclass(frozen=True, slots=True)
class Media:
    uri: str
    path: Path | None  # None: no file behind it (tone, silence) or missing
    duration: float | None  # None: plays until stopped (tones); 0 with path None: missing


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


class MediaLibrary:
    def __init__(self, sounds_dir: Path, recordings_dir: Path) -> None:
        self.sounds_dir = sounds_dir
        self.recordings_dir = recordings_dir
        self._durations: dict[Path, float] = {}

    def _duration(self, path: Path) -> float | None:
        cached = self._durations.get(path)
        if cached is None:
            try:
                cached = wav_duration(path)
            except (OSError, EOFError, wave.Error):
                return None
            self._durations[path] = cached
        return cached

    def _sound(self, name: str, language: str) -> Path | None:
        # Asterisk looks in sounds/<lang>/<name> first, then sounds/<name>.
        for candidate in (
            self.sounds_dir / language / f"{name}.wav",
            self.sounds_dir / f"{name}.wav",
            self.sounds_dir / "en" / f"{name}.wav",
        ):
            if candidate.is_file():
                return candidate
        return None

    def resolve(self, uri: str, language: str) -> Media:
        scheme, _, rest = uri.partition(":")
        if scheme == "sound":
            if rest.startswith("silence/") and rest[8:].isdigit():
                return Media(uri, None, float(rest[8:]))
            path = self._sound(rest, language)
        elif scheme == "recording":
            path = self.recordings_dir / f"{rest}.wav"
            path = path if path.is_file() else None
        elif scheme in ("digits", "number", "characters"):
            # Spoken one unit at a time from the digits/ sounds when present.
            total = 0.0
            for ch in rest:
                unit = self._sound(f"digits/{ch}", language)
                total += (self._duration(unit) or 0.0) if unit else 0.6
            return Media(uri, None, total)
        elif scheme == "tone":
            return Media(uri, None, None)
        else:
            path = None
        if path is None:
            return Media(uri, None, 0.0)
        duration = self._duration(path)
        return Media(uri, path if duration is not None else None, duration or 0.0)


def write_wav(path: Path, seconds: float, tone_hz: float = 0.0) -> int:
    """Write an 8 kHz mono 16-bit WAV of ``seconds`` (silence, or a quiet tone); bytes."""
    import math
    import struct

    frames = max(0, int(seconds * SAMPLE_RATE))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        if tone_hz:
            step = 2 * math.pi * tone_hz / SAMPLE_RATE
            data = b"".join(
                struct.pack("<h", int(2000 * math.sin(i * step))) for i in range(frames)
            )
            w.writeframes(data)
        else:
            # A second at a time: an hour-long call must not need its whole file in memory.
            left = frames
            while left > 0:
                n = min(left, SAMPLE_RATE)
                w.writeframesraw(b"\x00\x00" * n)
                left -= n
    tmp.replace(path)
    return path.stat().st_size
