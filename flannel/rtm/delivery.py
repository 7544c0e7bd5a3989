"""What goes out to connections: a frame encoded once and shared, and just-in-time users.

Just-in-time users. A thin client has no user directory, so a message from (or mentioning) a
user this connection was never sent comes preceded by a ``{"type": "user_info", "users": [..]}``
frame holding those users' objects. It is a separate frame, not a ``users`` field inside the
event, so that the event's bytes stay identical for every connection (encoded once, see
``fanout.py``); the user_info frame itself is encoded once per distinct set of missing users,
from each user's JSON encoded once and kept (:class:`UserJson`) until the user changes.

Framed once. Every frame also comes as a WebSocket text frame (``wire``), built once and written
as it is to every connection's transport (see :mod:`flannel.connection`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flannel.rtm import frames

UserLookup = Callable[[str], Mapping[str, Any] | None]
#: A user's JSON, encoded (None for an unknown user).
UserEncoder = Callable[[str], bytes | None]
#: A user_info frame: its JSON, the ids it holds, the same as a WebSocket frame.
InfoFrame = tuple[bytes, tuple[str, ...], bytes]


class UserJson:
    """Each user's JSON encoded once and kept while the user object stays the same one.

    The workspace cache replaces a user's object when it applies a ``user_change`` or a
    ``team_join``; the fanout also calls :meth:`forget` then. Bounded: past ``limit`` users
    it starts afresh (a user is re-encoded the next time a frame needs it).
    """

    __slots__ = ("_encode", "_kept", "limit")

    def __init__(self, encode: Callable[[Any], bytes] = frames.encode, limit: int = 20_000) -> None:
        self._encode = encode
        self._kept: dict[tuple[str, str], tuple[Mapping[str, Any], bytes]] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._kept)

    def encoded(self, team_id: str, user: Mapping[str, Any]) -> bytes:
        key = (team_id, str(user.get("id")))
        kept = self._kept.get(key)
        if kept is not None and kept[0] is user:
            return kept[1]
        data = self._encode(user)
        if len(self._kept) >= self.limit:
            self._kept.clear()
        self._kept[key] = (user, data)
        return data

    def forget(self, team_id: str, user_id: str) -> None:
        self._kept.pop((team_id, user_id), None)

    def lookup(self, team_id: str, users: UserLookup) -> UserEncoder:
        """A user's JSON by id for one workspace, from ``users`` (None for an unknown user)."""

        def encode(user_id: str) -> bytes | None:
            user = users(user_id)
            return None if user is None else self.encoded(team_id, user)

        return encode


class UserInfo:
    """``user_info`` frames for one event, each distinct set of users encoded once.

    Given ``encoded`` (each user's JSON, kept by :class:`UserJson`), the frame is joined from
    those bytes; else the users from ``lookup`` are encoded with ``encode``.
    """

    __slots__ = ("_encode", "_encoded", "_frames", "_lookup")

    def __init__(
        self,
        lookup: UserLookup,
        encode: Callable[[Any], bytes] = frames.encode,
        encoded: UserEncoder | None = None,
    ) -> None:
        self._lookup = lookup
        self._encode = encode
        self._encoded = encoded
        self._frames: dict[tuple[str, ...], InfoFrame | None] = {}

    def frame(self, ids: tuple[str, ...]) -> InfoFrame | None:
        """The frame for ``ids``, the ids it holds (unknown users are left out) and the frame
        as a WebSocket frame; or None."""
        if ids not in self._frames:
            self._frames[ids] = None
            if self._encoded is not None:
                got = {uid: data for uid in ids if (data := self._encoded(uid)) is not None}
                held, frame = tuple(got), frames.user_info_of(got.values())
            else:
                found = {uid: obj for uid in ids if (obj := self._lookup(uid)) is not None}
                held, frame = tuple(found), frames.user_info(found.values(), self._encode)
            if held:
                self._frames[ids] = (frame, held, frames.ws_text(frame))
        return self._frames[ids]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outgoing frame, shared by every connection it goes to.

    ``needs``: users a client must know to render it; ``carries``: users whose full object it
    holds. ``offset`` is None for frames outside the change log (typing), which are ephemeral.
    """

    offset: int | None
    frame: bytes
    needs: tuple[str, ...] = ()
    carries: tuple[str, ...] = ()
    user_info: UserInfo | None = None
    ephemeral: bool = False
    #: ``frame`` as a WebSocket text frame; built once here when not given.
    wire: bytes = b""

    def __post_init__(self) -> None:
        if not self.wire:
            object.__setattr__(self, "wire", frames.ws_text(self.frame))
