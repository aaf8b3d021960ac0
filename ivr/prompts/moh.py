"""Music on hold: a soft chime loop, generated, for musiconhold.conf's ``default`` class.

Asterisk has no music-on-hold class unless ``musiconhold.conf`` defines one; without it a
caller "on hold" hears silence (and the log says "No music on hold classes configured").
The shipped ``config/asterisk/musiconhold.conf`` points its ``default`` class at a folder
of sound files; this module makes the file that goes there: a slow arpeggio of soft bell
tones over four chords (C, A minor, F, G), about ten seconds that loop without a seam,
written as what Asterisk plays without resampling: WAV, 8000 Hz, mono, 16-bit PCM.

``hotline prompts build`` writes it to ``paths.moh_dir`` (``recordings/moh/``), which the
operator links or copies to the folder musiconhold.conf names (docs/asterisk.md). The
sound is made by code, not shipped: the same bytes every time, so a file that already
holds them is left alone ("cached"). Pure Python (``math``, ``array``, ``wave``).

Nothing else is written to that folder: Asterisk plays every file in it whose name does
not start with a dot (a ``.sha256`` sidecar would be taken for a sound), and the
temporary file of the atomic write is a dot-file.
"""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts.build import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, Status, _atomic

# The class the queues use unless they name another (config/queues.yaml: music_on_hold).
MOH_CLASS = "default"
FILE_NAME = "hotline-chimes.wav"

NOTE_SECONDS = 0.6  # one note every 0.6 s: 100 per minute, unhurried
TAIL_SECONDS = 2.4  # how long a note rings on; tails wrap round the loop's start
ATTACK_SECONDS = 0.012  # a soft start, no click
RELEASE_SECONDS = 0.4  # and a soft end of the tail: cut short, a sine clicks
DECAY_SECONDS = 0.55  # the fundamental's e-folding time: a bell or a marimba
# The peak after mixing: well below the prompts' (-3 dBFS), so the music sits behind the
# announcements and never blares. -10 dBFS.
PEAK = 10 ** (-10 / 20)

# Four chords, four notes each, all between C4 and E5: inside the telephone band (a phone
# loses most of what is under 300 Hz) and far from its signalling tones.
_NOTES = {
    "C4": 261.63,
    "E4": 329.63,
    "F4": 349.23,
    "G4": 392.00,
    "A4": 440.00,
    "B4": 493.88,
    "C5": 523.25,
    "D5": 587.33,
    "E5": 659.26,
}
PATTERN = (
    ("C4", "E4", "G4", "C5"),  # C
    ("A4", "C5", "E5", "C5"),  # A minor
    ("F4", "A4", "C5", "A4"),  # F
    ("G4", "B4", "D5", "B4"),  # G, leading back to C
)
# Partials of each note: (multiple of the fundamental, level, decay time factor). A quiet
# octave that fades fast gives the tone a little shimmer without any sharpness.
_PARTIALS = ((1.0, 1.0, 1.0), (2.0, 0.18, 0.45), (3.0, 0.05, 0.3))


@dataclass(frozen=True)
class MohFile:
    """The music-on-hold file and whether this run wrote it."""

    path: Path
    status: Status
    seconds: float


def loop_seconds() -> float:
    return NOTE_SECONDS * sum(len(chord) for chord in PATTERN)


def chimes_samples() -> array[int]:
    """The loop as signed 16-bit samples at 8 kHz; note tails wrap round to the start, so
    playing it again and again has no seam."""
    length = round(loop_seconds() * SAMPLE_RATE)
    mix = [0.0] * length
    step = round(NOTE_SECONDS * SAMPLE_RATE)
    tail = round(TAIL_SECONDS * SAMPLE_RATE)
    attack = round(ATTACK_SECONDS * SAMPLE_RATE)
    release = round(RELEASE_SECONDS * SAMPLE_RATE)
    notes = [_NOTES[name] for chord in PATTERN for name in chord]
    for index, frequency in enumerate(notes):
        start = index * step
        # The first note of each chord a little stronger: the ear hears the bar.
        accent = 1.0 if index % 4 == 0 else 0.8
        for n in range(tail):
            t = n / SAMPLE_RATE
            envelope = accent * min(1.0, n / attack, (tail - n) / release)
            value = 0.0
            for multiple, level, decay in _PARTIALS:
                value += (
                    level
                    * math.exp(-t / (DECAY_SECONDS * decay))
                    * math.sin(2 * math.pi * frequency * multiple * t)
                )
            mix[(start + n) % length] += envelope * value
    scale = PEAK * 32767 / max(abs(v) for v in mix)
    return array("h", (round(v * scale) for v in mix))


def chimes_wav() -> bytes:
    """The loop as a WAV file: 8000 Hz, mono, 16-bit PCM."""
    samples = chimes_samples()
    if sys.byteorder != "little":
        samples.byteswap()  # WAV data is little-endian
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def build_moh(moh_dir: Path) -> list[MohFile]:
    """Write the music-on-hold file(s) into ``moh_dir`` unless they are there already."""
    data = chimes_wav()
    out = moh_dir / FILE_NAME
    status: Status = "cached"
    try:
        same = out.is_file() and out.read_bytes() == data
    except OSError:
        same = False
    if not same:
        moh_dir.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            tmp.write_bytes(data)

        _atomic(out, write)
        status = "built"
    return [MohFile(out, status, loop_seconds())]
