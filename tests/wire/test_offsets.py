"""``resume_from`` offsets: absent, or a non-negative ASCII integer below 10**18."""

from __future__ import annotations

from typing import Any

import pytest

from wire.errors import SlackError
from wire.offsets import MAX_OFFSET, parse_offset


@pytest.mark.parametrize(
    ("value", "offset"), [(None, None), ("", None), (0, 0), ("0", 0), ("42", 42), (7, 7)]
)
def test_valid(value: Any, offset: int | None) -> None:
    assert parse_offset(value) == offset


def test_the_largest_offset_is_just_below_the_bound() -> None:
    assert parse_offset(MAX_OFFSET - 1) == MAX_OFFSET - 1
    assert parse_offset(str(MAX_OFFSET - 1)) == MAX_OFFSET - 1


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1",
        MAX_OFFSET,
        str(MAX_OFFSET),
        "9" * 4301,
        "²",
        "١٢",
        " 1",
        "1 ",
        "+1",
        "1.0",
        1.0,
        True,
        False,
        [1],
        {},
    ],
)
def test_refused_as_invalid_arguments(value: Any) -> None:
    with pytest.raises(SlackError) as info:
        parse_offset(value)
    assert info.value.code == "invalid_arguments"
    assert "resume_from" in str(info.value.detail)


def test_the_argument_name_is_in_the_detail() -> None:
    with pytest.raises(SlackError, match="offset"):
        parse_offset("x", name="offset")
