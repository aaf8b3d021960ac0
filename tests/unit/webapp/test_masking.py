from __future__ import annotations

import pytest

from webapp.masking import mask


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("010-6552-1234", "010-****-1234"),
        ("8001", "**01"),
        ("", ""),
    ],
)
def test_mask_keeps_head_and_tail_only(number: str, shown: str) -> None:
    assert mask(number) == shown
