"""The read side of a cached workspace: every answer passes the same visibility rule as the origin.

Public channels are visible to every user of the workspace; private channels, DMs and group DMs
only to their members; anything else is ``channel_not_found``, so a non-member cannot even learn
that a private conversation exists. "Public" is :func:`wire.visibility.is_public`, the rule the
origin uses too: a channel that does not say ``is_private: false`` is private (fails closed).
Pagination keys are plain ids: the HTTP layer wraps them into Slack's opaque cursors.

Returned user objects are the cache's own (serialise them, do not mutate them); conversation
objects are fresh shallow copies carrying the caller's ``is_member`` (and ``user`` for DMs).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence, Set
from typing import Any

import orjson

from flannel.cache import reads
from flannel.prefix_index import PrefixIndex
from wire import visibility
from wire.ids import ts_str
from wire.state import WorkspaceState
from wire.visibility import is_public, kind_of, type_of

JSON = dict[str, Any]

CONVERSATION_TYPES = frozenset(visibility.CONVERSATION_TYPES)


class CacheError(Exception):
    """A query refused with a Slack error code (``channel_not_found``, ``user_not_found``...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise CacheError("invalid_limit")


def _page(ids: Sequence[str], after: str | None, limit: int) -> tuple[Sequence[str], str | None]:
    """Up to ``limit`` ids after ``after`` from a sorted list, and the next key if more remain."""
    start = bisect_right(ids, after) if after else 0
    page = ids[start : start + limit]
    more = start + limit < len(ids)
    return page, (page[-1] if more and page else None)


class Queries:
    """Query methods over the indexes that :class:`flannel.cache.workspace.Workspace` maintains."""

    _state: WorkspaceState
    _user_index: PrefixIndex[str]  # live (not deleted) users by name, display name, real name
    _channel_index: PrefixIndex[str]  # named conversations (channels, group DMs) by name
    _channels_of: dict[str, set[str]]  # user -> the conversations they are a member of
    _user_ids: list[str]  # sorted: users.list pages by id
    _channel_ids: list[str]  # sorted: conversations.list pages by id
    _sorted_members: dict[str, list[str]]  # lazily sorted member lists, dropped on change
    _user_json: dict[str, bytes]  # each user's JSON once asked for, until replaced (users_json)
    _user_json_bytes: int  # their lengths, for the memory estimate

    # -- users ---------------------------------------------------------------------------------

    def user(self, user_id: str) -> JSON:
        user = self._state.users.get(user_id)
        if user is None:
            raise CacheError("user_not_found")
        return user

    def find_user(self, user_id: str) -> JSON | None:
        """The user, or None: :meth:`user` without the error."""
        return self._state.users.get(user_id)

    def users(self, user_ids: Iterable[str]) -> tuple[list[JSON], list[str]]:
        """Batch lookup in request order, each id once: (found users, missing ids)."""
        found: list[JSON] = []
        missing: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            user = self._state.users.get(user_id)
            if user is None:
                missing.append(user_id)
            else:
                found.append(user)
        return found, missing

    def list_users(
        self, caller: str, limit: int, after: str | None = None, channel: str | None = None
    ) -> tuple[list[JSON], str | None]:
        """Users ordered by id (deleted ones included, as Slack does); optionally one channel's."""
        _check_limit(limit)
        if channel is None:
            ids: Sequence[str] = self._user_ids
        else:
            self._visible(caller, channel)
            ids = self._member_list(channel)
        page, next_after = _page(ids, after, limit)
        users = self._state.users
        return [users[u] for u in page if u in users], next_after

    def users_json(self, user_ids: Iterable[str]) -> tuple[list[bytes], list[str]]:
        """The JSON of each user of ``user_ids`` (``orjson`` of the object :meth:`user`
        answers), in that order; and the ids of no user, in order. A user is encoded the first
        time it is asked for and kept until the workspace replaces its object (a
        ``user_change`` or ``team_join``: :meth:`_user_replaced`), so an answer listing users
        is joined from bytes: one dict get per user, its object not even touched."""
        kept = self._user_json
        found: list[bytes] = []
        missing: list[str] = []
        for user_id in user_ids:
            data = kept.get(user_id)
            if data is None:
                user = self._state.users.get(user_id)
                if user is None:
                    missing.append(user_id)
                    continue
                data = kept[user["id"]] = orjson.dumps(user)  # the state's (interned) id as key
                self._user_json_bytes += len(data)
            found.append(data)
        return found, missing

    def _user_replaced(self, user_id: str) -> None:
        """Forget the user's kept JSON: its object is being replaced."""
        data = self._user_json.pop(user_id, None)
        if data is not None:
            self._user_json_bytes -= len(data)

    def search_users(self, prefix: str, limit: int = 10) -> list[JSON]:
        """Quick-switcher search; deactivated users are not indexed, so never returned."""
        _check_limit(limit)
        return [self._state.users[u] for u in self._user_index.search(prefix, limit)]

    def search_user_ids(self, prefix: str, limit: int = 10) -> Sequence[str]:
        """The ids :meth:`search_users` answers with, best first (read-only: the index's
        remembered answer itself, not a copy)."""
        _check_limit(limit)
        return self._user_index.ranked(prefix, limit)

    # -- conversations -------------------------------------------------------------------------

    def can_see(self, user_id: str, channel_id: str) -> bool:
        """The one visibility rule; also what filters events before they reach a connection."""
        channel = self._state.channels.get(channel_id)
        if channel is None:
            return False
        if is_public(channel):
            return True
        return channel_id in self._channels_of.get(user_id, ())

    def members_of(self, channel_id: str) -> Set[str]:
        """The conversation's member ids (a live read-only view: copy to keep)."""
        return self._state.members.get(channel_id, frozenset())

    def channels_of(self, user_id: str) -> Set[str]:
        """The ids of the user's own conversations (a live read-only view: copy to keep)."""
        return self._channels_of.get(user_id, frozenset())

    def conversation(self, caller: str, channel_id: str) -> JSON:
        """``conversations.info``: the object with ``is_member``; ``user`` for a DM; for a
        member, its read state (``last_read``, ``unread_count``, ``unread_count_display``,
        ``latest``...)."""
        obj = self._object(caller, self._visible(caller, channel_id))
        if channel_id in self._channels_of.get(caller, ()):
            obj.update(reads.member_fields(self._state.reads, channel_id, caller))
        else:
            obj["latest"] = reads.latest_object(self._state.reads.latest(channel_id))
        return obj

    def client_counts(self, caller: str) -> JSON:
        """``client.counts``: the caller's conversations with their read state, from memory."""
        return reads.client_counts(
            self._state.reads, self._state.channels, self._channels_of.get(caller, ()), caller
        )

    def marked_fields(self, channel_id: str, user_id: str) -> JSON:
        """The counts a ``channel_marked`` event carries to ``user_id`` (Slack's fields)."""
        return reads.marked_fields(self._state.reads, channel_id, user_id)

    def list_conversations(
        self,
        caller: str,
        types: Set[str],
        exclude_archived: bool,
        limit: int,
        after: str | None = None,
    ) -> tuple[list[JSON], str | None]:
        """Visible conversations of the requested types, ordered by id (as the origin pages them)."""
        _check_limit(limit)
        unknown = set(types) - CONVERSATION_TYPES
        if unknown or not types:
            raise CacheError("invalid_types")
        if "public_channel" in types:
            candidates: Sequence[str] = self._channel_ids
        else:  # only conversations the caller is in can match: no need to walk the others
            candidates = sorted(self._channels_of.get(caller, ()))
        start = bisect_right(candidates, after) if after else 0
        out: list[JSON] = []
        more = False
        channels = self._state.channels
        for channel_id in candidates[start:]:
            channel = channels.get(channel_id)
            if channel is None or type_of(channel) not in types:
                continue
            if exclude_archived and channel.get("is_archived"):
                continue
            if not self.can_see(caller, channel_id):
                continue
            if len(out) == limit:
                more = True
                break
            obj = self._object(caller, channel)
            if channel_id in self._channels_of.get(caller, ()):
                obj["last_read"] = ts_str(self._state.reads.cursor(channel_id, caller))
            out.append(obj)
        return out, (out[-1]["id"] if more and out else None)

    def members(
        self, caller: str, channel_id: str, limit: int, after: str | None = None
    ) -> tuple[list[str], str | None]:
        """``conversations.members``: member ids ordered by id."""
        _check_limit(limit)
        self._visible(caller, channel_id)
        page, next_after = _page(self._member_list(channel_id), after, limit)
        return list(page), next_after

    def search_conversations(self, caller: str, prefix: str, limit: int = 10) -> list[JSON]:
        """Named conversations matching ``prefix`` that the caller may see, best first."""
        _check_limit(limit)
        found = self._channel_index.search(prefix, limit, lambda cid: self.can_see(caller, cid))
        return [self._object(caller, self._state.channels[cid]) for cid in found]

    def hello_channels(self, user_id: str) -> list[JSON]:
        """The thin hello's channel list: compact, and sized by the user's channels alone."""
        out: list[JSON] = []
        channels = self._state.channels
        for channel_id in sorted(self._channels_of.get(user_id, ())):
            channel = channels.get(channel_id)
            if channel is None:
                continue
            item: JSON = {"id": channel_id}
            if channel.get("name"):
                item["name"] = channel["name"]
            # A channel that is not public is private, whatever its object says (fails closed).
            item["is_private"] = bool(channel.get("is_private")) or type_of(channel) == "private_channel"
            item["is_im"] = bool(channel.get("is_im"))
            item["is_mpim"] = bool(channel.get("is_mpim"))
            item["is_archived"] = bool(channel.get("is_archived"))
            if item["is_im"]:
                item["user"] = self._dm_partner(channel_id, user_id)
            item.update(reads.member_fields(self._state.reads, channel_id, user_id))
            out.append(item)
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _visible(self, caller: str, channel_id: str) -> JSON:
        if not self.can_see(caller, channel_id):
            raise CacheError("channel_not_found")
        return self._state.channels[channel_id]

    def _object(self, caller: str, channel: JSON) -> JSON:
        obj = dict(channel)
        kind = kind_of(channel)
        if kind == "im":
            obj["user"] = self._dm_partner(channel["id"], caller)
        else:
            obj["is_member"] = channel["id"] in self._channels_of.get(caller, ())
        return obj

    def _dm_partner(self, channel_id: str, user_id: str) -> str:
        """The other member of a DM; the user themself for a self-DM (as the origin answers)."""
        for member in self._state.members.get(channel_id, ()):
            if member != user_id:
                return member
        return user_id

    def _member_list(self, channel_id: str) -> list[str]:
        """Members sorted by id, cached until the next join or leave of that channel."""
        members = self._sorted_members.get(channel_id)
        if members is None:
            members = self._sorted_members[channel_id] = sorted(self._state.members.get(channel_id, ()))
        return members
