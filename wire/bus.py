"""The ephemeral bus contract: what edges (and the origin, and the notifier) tell each other
about things that are never in the durable change log: presence, typing, and frames for one
user's connections.

The bus is per workspace: every envelope belongs to one workspace and travels on that
workspace's channel (:func:`channel`), so an edge hears only the workspaces it holds. Delivery
is at most once and unordered across publishers: anything sent here must be safe to lose
(presence is re-reported, typing expires, a notification is a courtesy). The adapters are in
``ephemeral/`` (Redis pub/sub in production, in-process when embedded); this module is the
pure format: the channel name, and :func:`encode` / :func:`decode` of the three envelope kinds.

Envelope kinds (``{"v": 1, "kind": ..., "team": T, "sender": S, ...}`` on the wire):

``presence``    :class:`Presence`: one edge's connection counts for some users of the
                workspace (``users``: uid -> :class:`Counts`, or None when the user has no
                connection left on that edge), valid for ``ttl_s`` unless refreshed. An empty
                ``users`` is a heartbeat (the edge is alive, its earlier report stands);
                ``full`` replaces everything the edge reported before. ``manual``: uid ->
                bool, a user's manual away set (True) or cleared (False) with
                ``users.setPresence``; sent by whoever stored it (the origin).
``typing``      :class:`Typing`: ``user`` is typing in ``channel``. Every edge delivers it as
                ``user_typing`` to the channel's other members' connections it holds (members
                only, below the member cap); receivers expire it on their own.
``user_frame``  :class:`UserFrame`: ``frame`` (a JSON object, a server frame in Slack's RTM
                shape such as ``{"type": "manual_presence_change", "presence": "away"}`` or
                ``{"type": "desktop_notification", ...}``) for every connection of ``user``
                in the workspace, on every edge. Edges queue it as an ephemeral frame (not
                resumed, not in the log), encoded once per edge.

Publishing a frame to a user (the notifier, say)::

    from wire import bus
    envelope = bus.UserFrame(team="T1", sender="notifier", user="U1",
                             frame={"type": "desktop_notification", "title": "..."})
    await publisher.publish(envelope)      # an ephemeral.Publisher

``sender`` names the publisher (an edge id, ``"origin"``, ``"notifier"``): an edge ignores
the ``typing`` and ``presence`` envelopes it sent itself (it already applied them locally),
never a ``user_frame``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

VERSION = 1
CHANNEL_PREFIX = "flannel:eph:"
#: The largest envelope a receiver accepts (a bigger one is dropped as malformed).
MAX_ENVELOPE_BYTES = 1024 * 1024

PRESENCE = "presence"
TYPING = "typing"
USER_FRAME = "user_frame"
KINDS = frozenset({PRESENCE, TYPING, USER_FRAME})


class BusError(ValueError):
    """An envelope that cannot be read (malformed, unknown kind or version)."""


def channel(team_id: str) -> str:
    """The pub/sub channel of one workspace's ephemeral envelopes (before any key prefix)."""
    return CHANNEL_PREFIX + team_id


def team_of(channel_name: str) -> str | None:
    """The workspace of a channel named by :func:`channel` (None for another name)."""
    if channel_name.startswith(CHANNEL_PREFIX) and len(channel_name) > len(CHANNEL_PREFIX):
        return channel_name[len(CHANNEL_PREFIX) :]
    return None


@dataclass(frozen=True, slots=True)
class Counts:
    """One user's connections on one edge: ``active`` of them not auto-away, of ``total``;
    ``last_activity`` (unix seconds) the newest client activity on any of them."""

    active: int
    total: int
    last_activity: float = 0.0

    def to_wire(self) -> list[Any]:
        return [self.active, self.total, self.last_activity]

    @classmethod
    def from_wire(cls, raw: Any) -> Counts:
        if not isinstance(raw, list) or len(raw) != 3:
            raise BusError("counts must be [active, total, last_activity]")
        active, total, last = raw
        if type(active) is not int or type(total) is not int or not 0 <= active <= total:
            raise BusError("counts must be integers with 0 <= active <= total")
        if not isinstance(last, int | float) or isinstance(last, bool):
            raise BusError("last_activity must be a number")
        return cls(active, total, float(last))


@dataclass(frozen=True, slots=True)
class Presence:
    team: str
    sender: str
    edge: str = ""
    ttl_s: float = 30.0
    users: Mapping[str, Counts | None] = field(default_factory=dict)
    full: bool = False
    manual: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Typing:
    team: str
    sender: str
    channel: str
    user: str


@dataclass(frozen=True, slots=True)
class UserFrame:
    team: str
    sender: str
    user: str
    frame: Mapping[str, Any]


Envelope = Presence | Typing | UserFrame


def encode(envelope: Envelope) -> bytes:
    head: dict[str, Any] = {"v": VERSION, "team": envelope.team, "sender": envelope.sender}
    if isinstance(envelope, Presence):
        body: dict[str, Any] = {
            "kind": PRESENCE,
            "edge": envelope.edge,
            "ttl_s": envelope.ttl_s,
            "users": {u: (c.to_wire() if c is not None else None) for u, c in envelope.users.items()},
        }
        if envelope.full:
            body["full"] = True
        if envelope.manual:
            body["manual"] = dict(envelope.manual)
    elif isinstance(envelope, Typing):
        body = {"kind": TYPING, "channel": envelope.channel, "user": envelope.user}
    else:
        body = {"kind": USER_FRAME, "user": envelope.user, "frame": dict(envelope.frame)}
    return orjson.dumps({**head, **body})


def _str(obj: Mapping[str, Any], key: str, empty_ok: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or (not value and not empty_ok):
        raise BusError(f"{key} must be a non-empty string")
    return value


def decode(data: bytes | str) -> Envelope:
    """An envelope from the bus, or :class:`BusError` (a receiver drops it, and logs)."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise BusError("envelope too large")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BusError("envelope is not JSON") from None
    if not isinstance(obj, dict):
        raise BusError("envelope must be a JSON object")
    if obj.get("v") != VERSION:
        raise BusError(f"unsupported envelope version: {obj.get('v')!r}")
    team, sender, kind = _str(obj, "team"), _str(obj, "sender", True), obj.get("kind")
    if kind == PRESENCE:
        users = obj.get("users", {})
        manual = obj.get("manual", {})
        ttl = obj.get("ttl_s", 30.0)
        if not isinstance(users, dict) or not isinstance(manual, dict):
            raise BusError("users and manual must be objects")
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            raise BusError("ttl_s must be a positive number")
        if not all(isinstance(v, bool) for v in manual.values()):
            raise BusError("manual values must be booleans")
        return Presence(
            team,
            sender,
            edge=_str(obj, "edge", True),
            ttl_s=float(ttl),
            users={str(u): (Counts.from_wire(c) if c is not None else None) for u, c in users.items()},
            full=obj.get("full") is True,
            manual={str(u): bool(v) for u, v in manual.items()},
        )
    if kind == TYPING:
        return Typing(team, sender, _str(obj, "channel"), _str(obj, "user"))
    if kind == USER_FRAME:
        frame = obj.get("frame")
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise BusError("frame must be an object with a string type")
        return UserFrame(team, sender, _str(obj, "user"), frame)
    raise BusError(f"unknown envelope kind: {str(kind)[:32]!r}")
