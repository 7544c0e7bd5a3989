"""What goes out to connections: a frame encoded once and shared, and just-in-time users.

Just-in-time users. A thin client has no user directory, so a message from (or mentioning) a
user this connection was never sent comes preceded by a ``{"type": "user_info", "users": [..]}``
frame holding those users' objects. It is a separate frame, not a ``users`` field inside the
event, so that the event's bytes stay identical for every connection (encoded once, see
``fanout.py``); the user_info frame itself is encoded once per distinct set of missing users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flannel.rtm import frames

UserLookup = Callable[[str], Mapping[str, Any] | None]


class UserInfo:
    """``user_info`` frames for one event, each distinct set of users encoded once."""

    __slots__ = ("_encode", "_frames", "_lookup")

    def __init__(self, lookup: UserLookup, encode: Callable[[Any], bytes] = frames.encode) -> None:
        self._lookup = lookup
        self._encode = encode
        self._frames: dict[tuple[str, ...], tuple[bytes, tuple[str, ...]] | None] = {}

    def frame(self, ids: tuple[str, ...]) -> tuple[bytes, tuple[str, ...]] | None:
        """The frame for ``ids`` and the ids it holds (unknown users are left out), or None."""
        if ids not in self._frames:
            found = {uid: obj for uid in ids if (obj := self._lookup(uid)) is not None}
            self._frames[ids] = None
            if found:
                frame = frames.user_info(found.values(), self._encode)
                self._frames[ids] = (frame, tuple(found))
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
