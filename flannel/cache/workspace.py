"""One workspace held in memory at the edge: a snapshot plus the change log applied to it.

The state is the origin's own :class:`~wire.state.WorkspaceState`, moved by its own
``apply``: the edge never re-implements what an event means, so "snapshot(X) + events after X ==
snapshot(now)" holds here exactly as it does at the origin. Around it this module keeps what
the queries need and the state does not have: prefix indexes over user and channel names, each
user's set of conversations, and ids in order for pagination. All of it is pure and I/O-free.
"""

from __future__ import annotations

import copy
from bisect import insort
from collections.abc import Iterable
from sys import intern
from typing import Any

import orjson

from flannel.cache.queries import JSON, Queries
from flannel.prefix_index import PrefixIndex
from wire.state import WorkspaceState

# Calibrated with tracemalloc on origin-shaped workspaces (5k-40k users, 20-5000 members per
# channel; estimate within ~8% of traced memory): a parsed object costs ~3.3x its compact JSON;
# a membership is a slot in two sets, which CPython keeps at most ~60% full and grows 4x.
_OBJECT_FACTOR_X10 = 33
_MEMBERSHIP_BYTES = 160
_PTR = 8
#: A kept user JSON's bytes object header and dict slot, beyond its length.
_JSON_ENTRY_BYTES = 33 + 3 * _PTR

_USER_EVENTS = frozenset({"team_join", "user_change"})
_CHANNEL_EVENTS = frozenset(
    {"channel_rename", "channel_archive", "channel_unarchive", "channel_topic", "channel_purpose"}
)
_MEMBER_EVENTS = frozenset({"member_joined_channel", "member_left_channel"})
_READ_PAGES = frozenset({"reads", "last_read"})


class SnapshotError(ValueError):
    """The snapshot stream was malformed or cut short: it must not become a cache."""


class WorkspaceBuilder:
    """Folds snapshot pages as they stream in; :meth:`finish` bulk-builds the indexes once."""

    def __init__(self) -> None:
        self._state: WorkspaceState | None = None
        self._counts = {"users": 0, "channels": 0, "members": 0}
        self._ended = False

    def add_page(self, page: JSON) -> None:
        kind = page.get("type")
        if self._ended:
            raise SnapshotError("snapshot page after the end page")
        if kind == "header":
            if self._state is not None:
                raise SnapshotError("second snapshot header")
            self._state = WorkspaceState(dict(page["team"]), int(page["offset"]))
            return
        if self._state is None:
            raise SnapshotError("snapshot does not start with a header")
        if kind == "end":
            for name, seen in self._counts.items():
                if int(page.get(name, seen)) != seen:
                    raise SnapshotError(f"snapshot announced {page[name]} {name}, carried {seen}")
            self._ended = True
            return
        if kind in self._counts:
            items = page["items"]
            self._counts[str(kind)] += len(items)
            self._state.add_page({"type": kind, "items": _interned(str(kind), items)})
        elif kind in _READ_PAGES:
            self._state.add_page(page)  # read state: windows and last_read (wire.readstate)
        # unknown page types are skipped: a newer origin may add some

    @property
    def items(self) -> int:
        """Users, channels and memberships folded so far: how big the index build will be."""
        return sum(self._counts.values())

    def finish(self) -> Workspace:
        """The workspace; :class:`SnapshotError` if the stream never reached its end page."""
        if self._state is None or not self._ended:
            raise SnapshotError("snapshot stream ended before its end page")
        return Workspace(self._state)


class Workspace(Queries):
    """A cached workspace: queries (see :class:`Queries`) and :meth:`apply` for the change log.

    Takes ownership of ``state``: later events mutate it.
    """

    def __init__(self, state: WorkspaceState) -> None:
        self._state = state
        self._user_ids = sorted(state.users)
        self._channel_ids = sorted(state.channels)
        self._user_index = PrefixIndex()
        self._user_index.add_many(
            (uid, _user_fields(user)) for uid, user in state.users.items() if not user.get("deleted")
        )
        self._channel_index = PrefixIndex()
        self._channel_index.add_many(
            (cid, [channel["name"]]) for cid, channel in state.channels.items() if channel.get("name")
        )
        self._channels_of = {}
        memberships = 0
        for channel_id, members in state.members.items():
            memberships += len(members)
            for user_id in members:
                self._channels_of.setdefault(user_id, set()).add(channel_id)
        self._memberships = memberships
        self._sorted_members = {}
        self._user_json = {}
        self._user_json_bytes = 0
        self._object_bytes = sum(map(_json_size, state.users.values())) + sum(
            map(_json_size, state.channels.values())
        )

    @classmethod
    def from_pages(cls, pages: Iterable[JSON]) -> Workspace:
        builder = WorkspaceBuilder()
        for page in pages:
            builder.add_page(page)
        return builder.finish()

    @property
    def team(self) -> JSON:
        return self._state.team

    @property
    def team_id(self) -> str:
        return str(self._state.team["id"])

    @property
    def offset(self) -> int:
        """The offset of the last event applied: resume the change log after it."""
        return self._state.offset

    def estimate_bytes(self) -> int:
        """A cheap running estimate of the memory held, for the edge's memory budget."""
        sorted_lists = sum(map(len, self._sorted_members.values()))
        return (
            self._user_index.estimate_bytes()
            + self._channel_index.estimate_bytes()
            + _OBJECT_FACTOR_X10 * self._object_bytes // 10
            + _MEMBERSHIP_BYTES * self._memberships
            + _PTR * (len(self._user_ids) + len(self._channel_ids) + sorted_lists)
            + self._state.reads.estimate_bytes()  # read state: windows and cursors
            + self._user_json_bytes
            + _JSON_ENTRY_BYTES * len(self._user_json)  # users' JSON kept
        )

    def apply(self, event: JSON) -> bool:
        """Apply the next change-log event; False on a gap (the caller must reload a snapshot).

        An event at or below the current offset is a duplicate delivery and changes nothing.
        """
        offset = int(event["offset"])
        if offset <= self._state.offset:
            return True
        if offset != self._state.offset + 1:
            return False
        kind = event.get("type")
        if kind in _USER_EVENTS:
            self._apply_user(event)
        elif kind == "channel_created":
            self._apply_created(event)
        elif kind in _MEMBER_EVENTS:
            channel_id, user_id = event["channel"], event["user"]
            was = user_id in self._state.members.get(channel_id, ())
            self._state.apply(event)
            now = user_id in self._state.members[channel_id]
            if now != was:  # look at the one user, not a copy of a 30k-member channel
                self._sync_members(channel_id, {user_id} if now else set(), set() if now else {user_id})
        elif kind in _CHANNEL_EVENTS:
            channel_id = _channel_id(event)
            old = self._state.channels.get(channel_id)
            old_size = _json_size(old)  # measured now: the state edits the object in place
            self._state.apply(event)
            if old is not None:
                self._channel_changed(channel_id, old_size)
        else:
            self._state.apply(event)  # messages, reactions...: only the offset moves
        return True

    # -- index maintenance ---------------------------------------------------------------------

    def _apply_user(self, event: JSON) -> None:
        # The state keeps the event's object: copy it so whoever fans the event out may not
        # alter the cache through it.
        event = {**event, "user": copy.deepcopy(event["user"])}
        user_id = event["user"]["id"]
        old = self._state.users.get(user_id)
        self._user_replaced(user_id)
        self._state.apply(event)
        user = self._state.users[user_id]
        self._object_bytes += _json_size(user) - (_json_size(old) if old is not None else 0)
        if old is None:
            insort(self._user_ids, user_id)
        if user.get("deleted"):
            if user_id in self._user_index:
                self._user_index.remove(user_id)
        else:
            self._user_index.update(user_id, _user_fields(user))

    def _apply_created(self, event: JSON) -> None:
        event = {**event, "channel": copy.deepcopy(event["channel"])}
        channel_id = event["channel"]["id"]
        old = self._state.channels.get(channel_id)
        before = self._state.members.get(channel_id, set())  # replaced, not edited, by the state
        self._state.apply(event)
        self._channel_changed(channel_id, None if old is None else _json_size(old))
        after = self._state.members[channel_id]
        self._sync_members(channel_id, after - before, before - after)

    def _channel_changed(self, channel_id: str, old_size: int | None) -> None:
        """Re-index one conversation after an event; ``old_size`` None when it is new."""
        channel = self._state.channels.get(channel_id)
        if channel is None:
            return  # an event about a conversation the state does not hold changes nothing
        self._object_bytes += _json_size(channel) - (old_size or 0)
        if old_size is None:
            insort(self._channel_ids, channel_id)
        name = channel.get("name")
        if name:
            self._channel_index.update(channel_id, [name])
        elif channel_id in self._channel_index:
            self._channel_index.remove(channel_id)

    def _sync_members(self, channel_id: str, added: set[str], removed: set[str]) -> None:
        """Mirror a change of one channel's member set into the user -> channels index."""
        if not added and not removed:
            return
        self._sorted_members.pop(channel_id, None)
        self._memberships += len(added) - len(removed)
        for user_id in added:
            self._channels_of.setdefault(user_id, set()).add(channel_id)
        for user_id in removed:
            mine = self._channels_of.get(user_id)
            if mine is not None:
                mine.discard(channel_id)
                if not mine:
                    del self._channels_of[user_id]


def _interned(kind: str, items: list[Any]) -> list[Any]:
    """Share one string per id: a membership then costs two set slots, not two more strings."""
    if kind == "members":
        return [(intern(channel_id), intern(user_id)) for channel_id, user_id in items]
    for item in items:
        item["id"] = intern(item["id"])
    return items


def _user_fields(user: JSON) -> list[str]:
    """What the quick switcher matches a user on: handle, display name, real name."""
    profile = user.get("profile") or {}
    return [user.get("name") or "", profile.get("display_name") or "", user.get("real_name") or ""]


def _channel_id(event: JSON) -> str:
    """Events name their channel by id, except rename and create which carry an object."""
    channel = event["channel"]
    return str(channel["id"] if isinstance(channel, dict) else channel)


def _json_size(obj: Any) -> int:
    return len(orjson.dumps(obj))
