"""Tests for the edge's sans-I/O RTM sessions. ``FakeWorkspace`` stands in for the cache."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session


class FakeWorkspace:
    """Users and channels with members; implements ``flannel.rtm.fanout.Access``."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.public: dict[str, bool] = {}
        self.members: dict[str, set[str]] = {}
        self.lookups = 0

    def add_user(self, uid: str) -> dict[str, Any]:
        user = {"id": uid, "name": uid.lower(), "deleted": False, "profile": {"real_name": uid}}
        self.users[uid] = user
        return user

    def add_channel(self, cid: str, members: Iterable[str], public: bool = True) -> None:
        self.public[cid] = public
        self.members[cid] = set(members)

    def can_see(self, user_id: str, channel_id: str) -> bool:
        if channel_id not in self.public:
            return False
        return self.public[channel_id] or user_id in self.members[channel_id]

    def members_of(self, channel_id: str) -> set[str]:
        return self.members.get(channel_id, set())

    def user(self, user_id: str) -> Mapping[str, Any] | None:
        self.lookups += 1
        return self.users.get(user_id)


def drain(session: Session) -> list[dict[str, Any]]:
    """Everything queued on ``session``, decoded, emptying its queue."""
    out = []
    while (frame := session.queue.pop()) is not None:
        out.append(orjson.loads(frame))
    return out


def new_session(uid: str, team: str = "T1", token: str = "", capacity: int = 1000) -> Session:
    return Session(uid, team, token or f"hash-{uid}", queue=SendQueue(capacity=capacity))


def message(offset: int, channel: str, user: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "offset": offset,
        "team": "T1",
        "channel": channel,
        "channel_type": "C",
        "user": user,
        "text": text,
        "ts": f"1700000000.{offset:06d}",
        **extra,
    }
