"""The form/query parser (``wire.http.form_pairs``) gives exactly urllib's answer
(``dict(parse_qsl(text, keep_blank_values=True, max_num_fields=n))``) for every input:
percent-escapes (valid, malformed, multi-byte, invalid UTF-8), ``+``, repeated and blank
names, empty fields, non-ASCII text and the field limit."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.errors import SlackError
from wire.http import MAX_FIELDS, form_pairs, parse_query


def urllib_answer(text: str, max_fields: int = MAX_FIELDS) -> dict[str, str] | type[ValueError]:
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields))
    except ValueError:
        return ValueError


def ours(text: str, max_fields: int = MAX_FIELDS) -> dict[str, str] | type[ValueError]:
    try:
        return form_pairs(text, max_fields)
    except ValueError:
        return ValueError


# Pieces a query string is made of, the awkward ones weighted in: separators, escapes of
# every kind (ASCII, UTF-8 lead and continuation bytes, lower and upper case hex, truncated,
# not hex), '+', commas (escaped and not) and non-ASCII characters (a lone surrogate too).
PIECES = st.sampled_from(
    "&|&|=|=|+|%|%2C|%2c|%2|%2C%|%%2C|%zz|%20|%26|%3D|%2B|%25|%C3%A9|%c3%a9|%C3|%A9|%E2%82%AC|"
    "%FF|%80|%F0%9F%98%80|,|a|b|users|U1|é|€|\x00| |;|\ud7ff|\ud800".split("|")
)
QUERIES = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=24).map("".join)


@settings(max_examples=3000, deadline=None)
@given(QUERIES)
def test_the_same_answer_as_parse_qsl(text: str) -> None:
    assert ours(text) == urllib_answer(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=40))
def test_the_same_answer_for_any_text(text: str) -> None:
    assert ours(text) == urllib_answer(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=8), st.booleans())
def test_encoded_forms_round_trip_as_urllib_does(pairs: list[tuple[str, str]], plus: bool) -> None:
    text = urlencode(pairs) if plus else "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    assert ours(text) == urllib_answer(text) == dict(pairs)


@settings(max_examples=500, deadline=None)
@given(QUERIES, st.integers(min_value=0, max_value=6))
def test_the_field_limit_as_parse_qsl(text: str, limit: int) -> None:
    assert ours(text, limit) == urllib_answer(text, limit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users=U1%2CU2%2cU3", {"users": "U1,U2,U3"}),
        ("q=a+b%2Bc&q=last", {"q": "last"}),  # '+' is a space, '%2B' a plus; the last one wins
        ("a&b=&=c&&", {"a": "", "b": "", "": "c"}),
        ("x=%zz%2%", {"x": "%zz%2%"}),  # a malformed escape stays as it is
        ("n=%C3%A9%FF", {"n": "é\ufffd"}),  # UTF-8, invalid bytes replaced
        ("k=a=b", {"k": "a=b"}),
    ],
)
def test_examples(text: str, expected: dict[str, str]) -> None:
    assert form_pairs(text) == expected == urllib_answer(text)


def test_past_the_limit_is_invalid_form_data() -> None:
    with pytest.raises(SlackError) as info:
        parse_query(b"a=1&b=2&c=3", max_fields=2)
    assert info.value.code == "invalid_form_data"
    assert parse_query(b"a=1&b=2", max_fields=2) == {"a": "1", "b": "2"}
