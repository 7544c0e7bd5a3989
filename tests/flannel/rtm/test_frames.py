"""Client frames: size, JSON, shapes and types; replies; outgoing event shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flannel.rtm.frames import (
    BadFrame,
    Ping,
    Query,
    Send,
    Typing,
    carried_user,
    error_frame,
    parse,
    reply,
    reply_error,
    reply_ok,
    wire_event,
)
from wire.mentions import referenced_users


def bad(frame: Any) -> BadFrame:
    assert isinstance(frame, BadFrame), frame
    return frame


def test_query() -> None:
    got = parse(b'{"id": 7, "type": "query", "method": "users.info", "args": {"user": "U1"}}')
    assert got == Query(7, "users.info", {"user": "U1"})
    assert parse('{"id": 1, "type": "query", "method": "auth.test"}') == Query(1, "auth.test", {})


def test_ping_pong_echoes_fields() -> None:
    got = parse('{"id": 3, "type": "ping", "time": 1403299273342}')
    assert got == Ping(3, {"time": 1403299273342})
    assert isinstance(got, Ping)
    assert orjson.loads(got.pong()) == {"type": "pong", "reply_to": 3, "time": 1403299273342}
    assert orjson.loads(Ping(None).pong()) == {"type": "pong"}


def test_message_send_and_typing() -> None:
    assert parse('{"id": 1, "type": "message", "channel": "C1", "text": "hi"}') == Send(1, "C1", "hi")
    got = parse('{"id": 2, "type": "message", "channel": "C1", "text": "", "thread_ts": "1.000001"}')
    assert got == Send(2, "C1", "", "1.000001")
    assert parse('{"id": 4, "type": "typing", "channel": "C1"}') == Typing(4, "C1")


def test_frame_too_large_counts_bytes_not_characters() -> None:
    assert bad(parse(b"x" * 101, max_bytes=100)).code == "frame_too_large"
    text = '{"type": "ping", "pad": "' + "é" * 40 + '"}'  # 65 characters, 105 bytes
    assert len(text) < 100 < len(text.encode())
    assert bad(parse(text, max_bytes=100)).code == "frame_too_large"
    assert isinstance(parse(text, max_bytes=200), Ping)
    assert bad(parse("x" * 10_000_000)).code == "frame_too_large"


@pytest.mark.parametrize("raw", [b"", b"{", b"nope", b"\xff\xfe{}", "{'id': 1}", b'{"a":1}{"b":2}'])
def test_invalid_json(raw: str | bytes) -> None:
    assert bad(parse(raw)).code == "invalid_json"


@pytest.mark.parametrize("raw", ["[]", "1", '"ping"', "null"])
def test_object_required(raw: str) -> None:
    assert bad(parse(raw)).code == "invalid_json"


@pytest.mark.parametrize(
    ("raw", "reply_to"),
    [
        ('{"id": 1}', 1),
        ('{"id": 1, "type": 5}', 1),
        ('{"id": "1", "type": "query", "method": "auth.test"}', None),
        ('{"id": true, "type": "query", "method": "auth.test"}', None),
        ('{"id": 1.5, "type": "ping"}', None),
        ('{"type": "query", "method": "auth.test"}', None),
        ('{"id": 1, "type": "query"}', 1),
        ('{"id": 1, "type": "query", "method": "../etc"}', 1),
        ('{"id": 1, "type": "query", "method": "users.info", "args": []}', 1),
        ('{"id": 1, "type": "message", "text": "hi"}', 1),
        ('{"id": 1, "type": "message", "channel": "C1", "text": 5}', 1),
        ('{"id": 1, "type": "message", "channel": "C1", "text": "x", "thread_ts": 1}', 1),
        ('{"type": "message", "channel": "C1", "text": "x"}', None),
        ('{"id": 1, "type": "typing", "channel": ""}', 1),
    ],
)
def test_invalid_arguments(raw: str, reply_to: int | None) -> None:
    frame = bad(parse(raw))
    assert (frame.code, frame.reply_to) == ("invalid_arguments", reply_to)


def test_unknown_type_replies_to_the_id() -> None:
    frame = bad(parse('{"id": 9, "type": "dnd_sub", "ids": []}'))
    assert (frame.code, frame.reply_to) == ("unknown_type", 9)
    error = orjson.loads(frame.reply())
    assert error["type"] == "error" and error["reply_to"] == 9
    assert error["error"]["code"] == "unknown_type" and "dnd_sub" in error["error"]["msg"]
    assert "reply_to" not in orjson.loads(bad(parse("nope")).reply())


def test_replies() -> None:
    assert orjson.loads(reply_ok(7, {"ts": "1.2"})) == {"ok": True, "reply_to": 7, "ts": "1.2"}
    assert orjson.loads(reply_error(7, "channel_not_found")) == {
        "ok": False,
        "reply_to": 7,
        "error": {"code": "channel_not_found", "msg": "channel_not_found"},
    }
    assert orjson.loads(reply_error(7, "x", {"ok": True, "reply_to": 1})) == {
        "ok": False,
        "reply_to": 7,
        "error": {"code": "x", "msg": "x"},
    }
    # A failed Web API answer keeps Slack's RTM shape, its detail as the message.
    failed = {"ok": False, "error": "not_in_channel", "detail": "join first", "needed": "x"}
    assert orjson.loads(reply(3, failed)) == {
        "ok": False,
        "reply_to": 3,
        "error": {"code": "not_in_channel", "msg": "join first"},
        "needed": "x",
    }
    got = orjson.loads(error_frame("ratelimited", "slow down", 3, retry_after=1.5))
    assert got == {
        "type": "error",
        "error": {"code": "ratelimited", "msg": "slow down", "retry_after": 1.5},
        "reply_to": 3,
    }


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_parse_never_raises(raw: str | bytes) -> None:
    parse(raw, max_bytes=150)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    )
)
def test_parse_never_raises_on_any_json(value: Any) -> None:
    for kind in ("query", "ping", "message", "typing", "other"):
        obj = {"type": kind, "id": value, "method": value, "args": value, "channel": value, "text": value}
        parse(orjson.dumps(obj))


def test_wire_event_rewrites_edits_and_deletions() -> None:
    changed = {"type": "message_changed", "subtype": "message_changed", "channel": "C1", "offset": 3}
    assert wire_event(changed) == {**changed, "type": "message", "subtype": "message_changed"}
    deleted = {"type": "message_deleted", "channel": "C1", "deleted_ts": "1.0", "offset": 4}
    assert wire_event(deleted)["type"] == "message"
    assert wire_event(deleted)["subtype"] == "message_deleted"
    plain = {"type": "message", "text": "x"}
    assert wire_event(plain) is plain


def test_referenced_users() -> None:
    text = "hey <@U2> and <@U3|carol>, also <@U2> again, <#C1|general> <!here> <@bogus>"
    assert referenced_users({"type": "message", "user": "U1", "text": text}) == ("U1", "U2", "U3")
    edited = {"type": "message_changed", "message": {"user": "U4", "text": "cc <@W5>"}, "user": "X"}
    assert referenced_users(edited) == ("U4", "W5")
    assert referenced_users({"type": "message_deleted", "previous_message": {"user": "U1"}}) == ()
    assert referenced_users({"type": "reaction_added", "user": "U1"}) == ()
    assert referenced_users({"type": "message", "subtype": "bot_message", "text": "x"}) == ()


def test_carried_user() -> None:
    assert carried_user({"type": "user_change", "user": {"id": "U1"}}) == "U1"
    assert carried_user({"type": "team_join", "user": {"id": "U2"}}) == "U2"
    assert carried_user({"type": "member_joined_channel", "user": "U1"}) is None
