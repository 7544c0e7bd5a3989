"""Opaque cursors: what we encode decodes back; anything else is ``invalid_cursor``, never a
crash (Unicode digits, thousands of digits, integers too large for a database)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire.args import Args
from wire.cursors import MAX_CURSOR_CHARS, decode, decode_int, encode, metadata, page
from wire.errors import SlackError


def raw(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def code(fn: object, *args: object) -> str:
    with pytest.raises(SlackError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.code


@given(
    st.sampled_from(["user", "conv", "member", "ts"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=100),
)
def test_round_trip(kind: str, key: str) -> None:
    cursor = encode(kind, key)
    assert "=" not in cursor and cursor.isascii()
    assert decode(kind, cursor) == key


@given(st.integers(0, 2**62 - 1))
def test_int_round_trip(n: int) -> None:
    assert decode_int("ts", encode("ts", str(n))) == n


@pytest.mark.parametrize(
    "key",
    [
        "²",
        "1²",
        "١٢",
        "\uff11\uff12",  # fullwidth digits
        "9" * 4301,
        "9" * 21,
        str(2**62),
        str(2**63),
        str(2**64),
        "-1",
        "+1",
        " 1",
        "1e3",
        "0x1",
        "1_0",
    ],
)
def test_int_keys_that_are_not_small_ascii_integers(key: str) -> None:
    assert code(decode_int, "ts", encode("ts", key)) == "invalid_cursor"


def test_int_maximum_is_exclusive() -> None:
    assert decode_int("search", encode("search", "99"), 100) == 99
    assert code(decode_int, "search", encode("search", "100"), 100) == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "²",
        "%%%",
        "*",
        "a" * (MAX_CURSOR_CHARS + 1),
        raw(b"user:\xff"),
        raw("user:"),
        raw(":U1"),
        raw("userU1"),
        raw("conv:C1"),  # another kind's cursor
        raw("user:é"),
        raw("user:\x00"),
        raw("user:U1\n"),
    ],
)
def test_not_ours(cursor: str) -> None:
    assert code(decode, "user", cursor) == "invalid_cursor"


def test_padding_is_optional() -> None:
    assert decode("user", base64.urlsafe_b64encode(b"user:U1").decode()) == "U1"


def test_page_reads_limit_and_cursor() -> None:
    assert page(Args({}), "user") == (100, None)
    assert page(Args({"limit": "0"}), "user") == (100, None)  # Slack: 0 means the default
    assert page(Args({"limit": 5, "cursor": encode("user", "U9")}), "user") == (5, "U9")
    assert code(page, Args({"limit": "1001"}), "user") == "invalid_limit"
    assert code(page, Args({"limit": "²"}), "user") == "invalid_limit"
    assert code(page, Args({"cursor": "nope"}), "user") == "invalid_cursor"


def test_metadata() -> None:
    assert metadata(None) == {"response_metadata": {"next_cursor": ""}}
    assert metadata("abc") == {"response_metadata": {"next_cursor": "abc"}}
