"""The RTM wire protocol: client frames in (parsed and validated), server frames out.

Client frames are untrusted: :func:`parse` never raises, it returns either a typed frame or a
:class:`BadFrame` whose :meth:`~BadFrame.reply` is the error frame to send back, with
``reply_to`` when the frame's ``id`` could be read. Size is checked before any parsing, so an
oversized frame costs nothing but its length.

Every server frame is built here: replies, error frames and refusals, pongs, ``goodbye``,
``resync``, ``user_typing``, ``user_info``; and change-log events are shaped here too
(:func:`wire_event`), so the live fanout and the resume replay put exactly the same bytes on the
wire. (The hello's shape is :mod:`flannel.rtm.hello`'s.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from wire.presence import parse_ids

JSON = dict[str, Any]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024
"""Slack rejects RTM frames over 16 KB; a message's text is bounded again by the origin."""

_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,99}$")
_REWRITTEN = frozenset({"message_changed", "message_deleted"})


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- client frames -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """``{"id": 7, "type": "query", "method": "users.info", "args": {...}}``: a Web API call."""

    id: int
    method: str
    args: JSON


@dataclass(frozen=True, slots=True)
class Ping:
    """Slack's keepalive; every field but ``id``/``type`` is echoed in the pong."""

    id: int | None
    extra: JSON = field(default_factory=dict)

    def pong(self) -> bytes:
        out: JSON = {**self.extra, "type": "pong"}
        if self.id is not None:
            out["reply_to"] = self.id
        return encode(out)


@dataclass(frozen=True, slots=True)
class Send:
    """Slack RTM ``{"id": 1, "type": "message", "channel": "C..", "text": ".."}``."""

    id: int
    channel: str
    text: str
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True)
class Typing:
    """``{"id": 1, "type": "typing", "channel": "C.."}``: becomes an ephemeral ``user_typing``."""

    id: int | None
    channel: str


@dataclass(frozen=True, slots=True)
class PresenceSub:
    """``{"type": "presence_sub", "ids": [...]}``: replace the connection's presence
    subscriptions (at most :data:`wire.presence.MAX_PRESENCE_SUB` ids)."""

    id: int | None
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceQuery:
    """``{"type": "presence_query", "ids": [...]}``: the current presence of ``ids``, once."""

    id: int | None
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceActive:
    """``{"type": "presence_active"}``: the user is here (client activity, ends auto-away)."""

    id: int | None


PresenceFrame = PresenceSub | PresenceQuery | PresenceActive


@dataclass(frozen=True, slots=True)
class BadFrame:
    code: str
    msg: str
    reply_to: int | None = None

    def reply(self) -> bytes:
        return error_frame(self.code, self.msg, self.reply_to)


ClientFrame = Query | Ping | Send | Typing | PresenceSub | PresenceQuery | PresenceActive | BadFrame


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, and never an id


def _size(data: str | bytes, max_bytes: int) -> int:
    """Bytes on the wire, without encoding a str when its length already decides."""
    if isinstance(data, bytes) or len(data) > max_bytes or len(data) * 4 <= max_bytes:
        return len(data)
    return len(data.encode())


def parse(data: str | bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> ClientFrame:
    """One client frame (a WebSocket text or binary message) -> a typed frame or a BadFrame."""
    if _size(data, max_bytes) > max_bytes:
        return BadFrame("frame_too_large", f"frames are limited to {max_bytes} bytes")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return BadFrame("invalid_json", "the frame is not valid JSON")
    if not isinstance(obj, dict):
        return BadFrame("invalid_json", "a frame must be a JSON object")
    raw_id = obj.get("id")
    frame_id = raw_id if _is_int(raw_id) else None
    kind = obj.get("type")
    if not isinstance(kind, str):
        return BadFrame("invalid_arguments", "type must be a string", frame_id)
    if raw_id is not None and frame_id is None:
        return BadFrame("invalid_arguments", "id must be an integer")
    if kind == "ping":
        return Ping(frame_id, {k: v for k, v in obj.items() if k not in ("id", "type")})
    if kind == "query":
        return _query(obj, frame_id)
    if kind == "message":
        return _send(obj, frame_id)
    if kind == "typing":
        channel = obj.get("channel")
        if not isinstance(channel, str) or not channel:
            return BadFrame("invalid_arguments", "channel must be a non-empty string", frame_id)
        return Typing(frame_id, channel)
    if kind in ("presence_sub", "presence_query"):
        ids = parse_ids(obj.get("ids"))
        if isinstance(ids, str):
            return BadFrame("invalid_arguments", ids, frame_id)
        return (PresenceSub if kind == "presence_sub" else PresenceQuery)(frame_id, tuple(ids))
    if kind == "presence_active":
        return PresenceActive(frame_id)
    return BadFrame("unknown_type", f"unsupported frame type: {kind[:64]!r}", frame_id)


def _query(obj: JSON, frame_id: int | None) -> Query | BadFrame:
    if frame_id is None:
        return BadFrame("invalid_arguments", "a query needs an integer id")
    method = obj.get("method")
    if not isinstance(method, str) or not _METHOD.match(method):
        return BadFrame("invalid_arguments", "method must be a method name", frame_id)
    args = obj.get("args", {})
    if not isinstance(args, dict):
        return BadFrame("invalid_arguments", "args must be an object", frame_id)
    return Query(frame_id, method, args)


def _send(obj: JSON, frame_id: int | None) -> Send | BadFrame:
    if frame_id is None:
        return BadFrame("invalid_arguments", "a message needs an integer id")
    channel, text, thread_ts = obj.get("channel"), obj.get("text"), obj.get("thread_ts")
    if not isinstance(channel, str) or not channel:
        return BadFrame("invalid_arguments", "channel must be a non-empty string", frame_id)
    if not isinstance(text, str):
        return BadFrame("invalid_arguments", "text must be a string", frame_id)
    if thread_ts is not None and not isinstance(thread_ts, str):
        return BadFrame("invalid_arguments", "thread_ts must be a string", frame_id)
    return Send(frame_id, channel, text, thread_ts)


# -- server frames -------------------------------------------------------------------------


def reply_ok(reply_to: int, fields: Mapping[str, Any] | None = None) -> bytes:
    """``{"ok": true, "reply_to": 7, ...}``: the answer to a query or a message send."""
    return encode({"ok": True, "reply_to": reply_to, **(fields or {})})


def reply_error(reply_to: int, error: str, fields: Mapping[str, Any] | None = None, msg: str = "") -> bytes:
    """``{"ok": false, "reply_to": 7, "error": {"code": "channel_not_found", "msg": ".."}}``:
    Slack's RTM shape for a failed reply (the Node RTM client reads ``error.msg`` and keeps
    ``error`` as the failure's data); ``code`` is the Web API's error name."""
    return encode(
        {**(fields or {}), "ok": False, "reply_to": reply_to, "error": {"code": error, "msg": msg or error}}
    )


def reply(reply_to: int, body: Mapping[str, Any]) -> bytes:
    """A Web API answer (``{"ok": ..., ...}``) as the reply to query ``reply_to``."""
    if body.get("ok"):
        return reply_ok(reply_to, {k: v for k, v in body.items() if k != "ok"})
    error = str(body.get("error", "internal_error"))
    detail = body.get("detail")
    rest = {k: v for k, v in body.items() if k not in ("ok", "error", "detail")}
    return reply_error(reply_to, error, rest, detail if isinstance(detail, str) else "")


def error_frame(code: str, msg: str, reply_to: int | None = None, **extra: Any) -> bytes:
    """``{"type": "error", "error": {"code", "msg"}, "reply_to": id}`` for a frame we refused."""
    out: JSON = {"type": "error", "error": {"code": code, "msg": msg, **extra}}
    if reply_to is not None:
        out["reply_to"] = reply_to
    return encode(out)


def refusal(code: str, msg: str) -> bytes:
    """The error frame sent just before closing a connection that was refused or ended."""
    return error_frame(code, msg)


def rate_limited(reply_to: int | None, retry_after: float) -> bytes:
    return error_frame("ratelimited", f"retry after {retry_after:.1f}s", reply_to)


def goodbye(source: str) -> bytes:
    """Slack's ``goodbye``: the edge is going away, reconnect (and resume) elsewhere."""
    return encode({"type": "goodbye", "source": source})


def resync(reason: str) -> bytes:
    """The edge reloaded the workspace: the client must drop its cache (then reconnect)."""
    return encode({"type": "resync", "reason": reason})


def user_typing(channel: str, user: str, encode: Callable[[Any], bytes] = encode) -> bytes:
    return encode({"type": "user_typing", "channel": channel, "user": user})


def presence_change(users: Iterable[str], presence: str, encode: Callable[[Any], bytes] = encode) -> bytes:
    """Slack's batched ``presence_change``: ``users`` are now ``presence``."""
    return encode({"type": "presence_change", "users": list(users), "presence": presence})


def user_info(users: Iterable[Mapping[str, Any]], encode: Callable[[Any], bytes] = encode) -> bytes:
    """Users a client is sent just in time, before the event that needs them."""
    return encode({"type": "user_info", "users": list(users)})


def user_info_of(encoded: Iterable[bytes]) -> bytes:
    """:func:`user_info` from users already encoded (each user's JSON encoded once and kept):
    the same bytes as ``user_info(users)`` with orjson."""
    return b'{"type":"user_info","users":[' + b",".join(encoded) + b"]}"


def ws_text(payload: bytes) -> bytes:
    """``payload`` as one unmasked, final WebSocket text frame (RFC 6455 5.2), as a server
    sends it: built once per event and written as it is to every connection it goes to."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


_MARKED = {"G": "group_marked", "D": "im_marked"}


def wire_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """A change-log event in Slack's shape: edits and deletions are ``message`` + subtype.

    The log names them by subtype for routing; Slack clients expect ``type: message``.
    """
    kind = event.get("type")
    if kind in _REWRITTEN:
        return {**event, "type": "message", "subtype": kind}
    if kind == "channel_marked":  # Slack names a mark by the conversation's kind
        return {**event, "type": _MARKED.get(str(event.get("channel_type")), "channel_marked")}
    if kind == "ephemeral_message":
        return ephemeral(event)
    return event


def ephemeral(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """``chat.postEphemeral``'s event as Slack's RTM delivers it: a ``message`` with the inner
    message's fields inlined (``user`` is then the poster, not the recipient), its channel,
    and ``is_ephemeral: true``; the log's offset and timestamps kept."""
    inner = event.get("message")
    fields = {k: v for k, v in inner.items() if k != "type"} if isinstance(inner, Mapping) else {}
    kept = {k: event[k] for k in ("offset", "team", "event_ts", "channel_type") if k in event}
    return {"type": "message", **fields, "channel": event.get("channel"), **kept, "is_ephemeral": True}


def carried_user(event: Mapping[str, Any]) -> str | None:
    """The user whose full object the event carries (user_change, team_join): the client has it."""
    if event.get("type") in ("user_change", "team_join"):
        user = event.get("user")
        if isinstance(user, Mapping) and isinstance(user.get("id"), str):
            return str(user["id"])
    return None
