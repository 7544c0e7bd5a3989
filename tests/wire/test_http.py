"""Slack's HTTP conventions as pure functions: where arguments and the token come from, the
limits on bodies and forms, and the shape and status of answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from wire.errors import RateLimited, SlackError
from wire.http import (
    MAX_BODY,
    MAX_FIELDS,
    bearer,
    error_answer,
    ok_body,
    parse_args,
    read_body,
)

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "----flannel"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], files: dict[str, bytes] | None = None) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for name, data in (files or {}).items():
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="a.bin"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def code_of(method: str, query: str, ctype: str, body: bytes, **kw: int) -> str:
    with pytest.raises(SlackError) as info:
        parse_args(method, query, ctype, body, **kw)
    assert info.value.status == 200  # every one of these is answered with HTTP 200
    return info.value.code


def test_query_string() -> None:
    assert parse_args("GET", "channel=C1&limit=5&empty=", "", b"") == {
        "channel": "C1",
        "limit": "5",
        "empty": "",
    }
    assert parse_args("GET", b"a=1&a=2&text=h%C3%A9", "", b"") == {"a": "2", "text": "hé"}
    assert parse_args("GET", "a=1", "application/json", b'{"a": 2}') == {"a": "1"}  # GET: no body


def test_urlencoded_form_over_the_query() -> None:
    got = parse_args("POST", "channel=C1&x=q", f"{FORM}; charset=utf-8", b"text=h%C3%A9+there&x=f")
    assert got == {"channel": "C1", "text": "hé there", "x": "f"}


def test_json_object() -> None:
    body = orjson.dumps({"channel": "C1", "limit": 5, "flag": True, "items": ["a"]})
    assert parse_args("POST", "", "application/json; charset=utf-8", body) == {
        "channel": "C1",
        "limit": 5,
        "flag": True,
        "items": ["a"],
    }
    assert parse_args("POST", "a=1", "application/json", b"  ") == {"a": "1"}  # parameterless POST


@pytest.mark.parametrize("body", [b"{nope", b"[1, 2]", b'"text"', b"1"])
def test_json_that_is_not_an_object(body: bytes) -> None:
    assert code_of("POST", "", "application/json", body) == "invalid_json"


def test_multipart_fields_and_file_parts() -> None:
    body = multipart({"channel": "C1", "text": "héllo"}, files={"file": b"\x00\xff"})
    assert parse_args("POST", "", MULTIPART, body) == {"channel": "C1", "text": "héllo"}


def test_multipart_without_a_boundary_is_invalid_form_data() -> None:
    body = multipart({"channel": "C1"})
    assert code_of("POST", "", "multipart/form-data", body) == "invalid_form_data"


def test_malformed_multipart_is_invalid_form_data() -> None:
    assert code_of("POST", "", MULTIPART, b"not a multipart body at all") == "invalid_form_data"


def test_more_than_max_fields_is_invalid_form_data_in_every_encoding() -> None:
    many = {f"f{i}": "v" for i in range(MAX_FIELDS + 1)}
    form = "&".join(f"{k}={v}" for k, v in many.items())
    assert code_of("POST", "", FORM, form.encode()) == "invalid_form_data"
    assert code_of("GET", form, "", b"") == "invalid_form_data"
    assert code_of("POST", "", "application/json", orjson.dumps(many)) == "invalid_form_data"
    assert code_of("POST", "", MULTIPART, multipart(many)) == "invalid_form_data"
    exactly = {f"f{i}": "v" for i in range(MAX_FIELDS)}
    assert len(parse_args("POST", "", FORM, "&".join(f"{k}=v" for k in exactly).encode())) == MAX_FIELDS


def test_a_form_that_is_not_utf8_is_invalid_form_data() -> None:
    assert code_of("POST", "", FORM, b"text=\xff\xfe") == "invalid_form_data"


def test_an_unknown_content_type_with_a_body_is_invalid_form_data() -> None:
    assert code_of("POST", "", "text/xml", b"<a/>") == "invalid_form_data"
    assert parse_args("POST", "a=1", "text/plain", b"") == {"a": "1"}  # no body: nothing to refuse


def test_an_oversized_body_is_request_too_large() -> None:
    assert code_of("POST", "", FORM, b"a=" + b"x" * MAX_BODY) == "request_too_large"
    assert code_of("POST", "", FORM, b"a=xxxx", max_body=4) == "request_too_large"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_read_body_joins_chunks_and_stops_at_the_limit() -> None:
    assert await read_body(chunks(b"ab", b"", b"cd")) == b"abcd"
    assert await read_body(chunks(b"ab", b"cd"), limit=4) == b"abcd"
    with pytest.raises(SlackError) as info:
        await read_body(chunks(b"ab", b"cd", b"e"), limit=4)
    assert info.value.code == "request_too_large" and info.value.status == 200


async def test_read_body_does_not_read_past_the_limit() -> None:
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(10**6):
            read.append(i)
            yield b"x" * 1000

    with pytest.raises(SlackError):
        await read_body(endless(), limit=10_000)
    assert len(read) == 11


def test_bearer_wins_and_the_token_argument_is_always_removed() -> None:
    values = {"token": "xoxp-arg", "channel": "C1"}
    assert bearer("Bearer xoxp-header", values) == "xoxp-header"
    assert values == {"channel": "C1"}  # never reaches a method or a log
    values = {"token": "xoxp-arg"}
    assert bearer(None, values) == "xoxp-arg" and values == {}
    assert bearer("bearer   xoxp-lower  ", {}) == "xoxp-lower"
    assert bearer("Basic abc", {"token": "xoxp-arg"}) == "xoxp-arg"
    assert bearer("Bearer ", {"token": "xoxp-arg"}) is None  # an empty bearer is no token
    assert bearer(None, {"token": ""}) is None
    assert bearer(None, {"token": ["xoxp-list"]}) is None
    assert bearer(None, {}) is None


def test_ok_body() -> None:
    assert orjson.loads(ok_body({"user": "U1"})) == {"ok": True, "user": "U1"}


def test_error_answers_are_200_with_detail() -> None:
    body, status, headers = error_answer(SlackError("channel_not_found"))
    assert (orjson.loads(body), status, headers) == ({"ok": False, "error": "channel_not_found"}, 200, {})
    body, status, _ = error_answer(SlackError("invalid_arguments", "limit: must be an integer"))
    assert status == 200
    assert orjson.loads(body) == {
        "ok": False,
        "error": "invalid_arguments",
        "detail": "limit: must be an integer",
        "response_metadata": {"messages": ["[ERROR] limit: must be an integer"]},
    }


def test_rate_limits_are_429_with_retry_after() -> None:
    body, status, headers = error_answer(RateLimited(7))
    assert status == 429 and headers == {"Retry-After": "7"}
    assert orjson.loads(body) == {"ok": False, "error": "ratelimited"}
