"""Where a recording is stored, how long it is, and how a failed write is reported."""

from __future__ import annotations

import errno
import io
import os
import wave
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hotline.recordings import describe_os_error, relative_path, wav_duration, write_file


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def test_the_path_is_the_utc_date_of_the_call_start_and_the_channel_id() -> None:
    started = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert relative_path(started, "1762077600.7") == "2026/11/02/1762077600.7.wav"
    assert relative_path(started, "1762077600.7", part=2) == "2026/11/02/1762077600.7-2.wav"
    # 07:30 on the 3rd in Beijing is still the 2nd in UTC.
    beijing = datetime(2026, 11, 3, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    assert relative_path(beijing, "c").startswith("2026/11/02/")


def test_a_channel_id_cannot_leave_the_day_folder() -> None:
    started = datetime(2026, 1, 5, tzinfo=UTC)
    assert relative_path(started, "../../etc/x") == "2026/01/05/_.._etc_x.wav"
    assert relative_path(started, "PJSIP/a b;1") == "2026/01/05/PJSIP_a_b_1.wav"
    assert relative_path(started, "") == "2026/01/05/call.wav"


def test_duration_comes_from_the_wav_header() -> None:
    assert wav_duration(wav_bytes(2.5)) == pytest.approx(2.5)
    assert wav_duration(wav_bytes(1.0, rate=16000)) == pytest.approx(1.0)
    with pytest.raises((wave.Error, EOFError)):
        wav_duration(b"not a wav file at all")


def test_write_file_makes_the_folders_and_leaves_no_part_file(tmp_path: Path) -> None:
    data = wav_bytes(0.5)
    target = tmp_path / "2026" / "11" / "02" / "c.wav"
    assert write_file(target, data) == len(data)
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["c.wav"]


def test_a_full_disk_is_enospc_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "c.wav"
    os.symlink("/dev/full", tmp_path / "c.wav.part")  # the kernel's always-full device
    with pytest.raises(OSError) as raised:
        write_file(target, wav_bytes(1.0))
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    line = describe_os_error(raised.value, target)
    assert line.startswith(f"cannot write {target}: ") and line.endswith("(ENOSPC)")


def test_a_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calls").write_text("not a directory")
    target = tmp_path / "calls" / "2026" / "c.wav"
    with pytest.raises(OSError) as raised:
        write_file(target, b"RIFF")
    assert raised.value.errno in (errno.ENOTDIR, errno.EEXIST)
    assert "cannot write" in describe_os_error(raised.value, target)
