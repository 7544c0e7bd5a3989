"""Read state answers at the edge: counts and latest per conversation, from memory.

The counts come from :class:`wire.readstate.ReadState`, which the workspace's state moves
with every change-log event; nothing here reads the origin. ``client.counts`` walks the
caller's own conversations only, so its cost grows with them, not with the workspace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wire.ids import ts_str
from wire.readstate import ReadState, latest_object
from wire.visibility import kind_of

JSON = dict[str, Any]

#: Slack's client.counts groups, by conversation kind.
__all__ = ["client_counts", "counts_item", "latest_object", "marked_fields", "member_fields"]

_GROUPS = {"channel": "channels", "private": "channels", "mpim": "mpims", "im": "ims"}


def member_fields(reads: ReadState, channel_id: str, user_id: str) -> JSON:
    """What a member sees of their read state in one conversation (Slack's field names)."""
    return reads.counts(channel_id, user_id).fields()


def counts_item(reads: ReadState, channel_id: str, user_id: str) -> JSON:
    """One entry of ``client.counts``: {id, last_read, latest, has_unreads, mention_count,
    unread_count} (plus the ``*_is_floor`` flags when the window did not reach)."""
    c = reads.counts(channel_id, user_id)
    display, mention = c.unread_count_display, c.mention_count
    item: JSON = {
        "id": channel_id,
        "last_read": ts_str(c.last_read),
        "unread_count": c.unread_count,
        "unread_count_display": display,
        "mention_count": mention,
        "has_unreads": display > 0 or mention > 0,
        "latest": ts_str(c.latest.ts) if c.latest is not None else None,
    }
    if c.is_floor:
        item["unread_count_is_floor"] = item["mention_count_is_floor"] = True
    return item


#: Callers whose ``client.counts`` answer is kept per read state; past it the memo starts over.
MEMO_USERS = 20_000


class _Memo:
    """One caller's last ``client.counts``: the answer, the read state's version it was made at,
    the conversations it covered, and per conversation what its item was computed from."""

    __slots__ = ("answer", "mine", "parts", "version")

    def __init__(self, version: int, mine: frozenset[str], parts: dict[str, tuple[Any, ...]], answer: JSON):
        self.version, self.mine, self.parts, self.answer = version, mine, parts, answer


def client_counts(reads: ReadState, channels: Mapping[str, JSON], mine: Iterable[str], user_id: str) -> JSON:
    """``client.counts`` for ``user_id``: their conversations grouped as Slack does.

    The answer is kept per caller (``reads.memo``) and given again while nothing moved: the read
    state's version (every event and snapshot page moves it) and the caller's conversations are
    as they were. After any event, each item is reused only if its conversation's object, window
    (and its version) and the caller's cursor there are the same objects and values, so a busy
    workspace recomputes the conversations that changed, not all of them. The answer is shared:
    callers must not edit it (:func:`flannel.read_methods.client_counts` copies its top level).
    """
    memo: dict[str, _Memo] = reads.memo.setdefault("client.counts", {})
    old = memo.get(user_id)
    if old is not None and old.version == reads.version and old.mine == mine:
        return old.answer
    out: JSON = {"channels": [], "mpims": [], "ims": []}
    parts: dict[str, tuple[Any, ...]] = {}
    before = old.parts if old is not None else {}
    windows, cursors = reads.windows, reads.last_read
    order = sorted(mine)
    for channel_id in order:
        channel = channels.get(channel_id)
        if channel is None:
            continue
        window = windows.get(channel_id)
        cursor = cursors.get(channel_id, {}).get(user_id, 0)
        version = window.version if window is not None else -1
        seen = before.get(channel_id)
        if seen is not None and seen[0] is channel and seen[1] is window and seen[2:4] == (version, cursor):
            group, item = seen[4], seen[5]
        else:
            group = _GROUPS.get(kind_of(channel), "channels")
            item = counts_item(reads, channel_id, user_id)
        parts[channel_id] = (channel, window, version, cursor, group, item)
        out[group].append(item)
    if old is None and len(memo) >= MEMO_USERS:
        memo.clear()  # bounded: a cold caller pays one computation again
    memo[user_id] = _Memo(reads.version, frozenset(order), parts, out)
    return out


def marked_fields(reads: ReadState, channel_id: str, user_id: str) -> JSON:
    """What Slack's ``channel_marked`` carries besides channel and ts: the counts after it."""
    c = reads.counts(channel_id, user_id)
    out: JSON = {
        "unread_count": c.unread_count,
        "unread_count_display": c.unread_count_display,
        "mention_count": c.mention_count,
        "mention_count_display": c.mention_count,
        "num_mentions": c.mention_count,
        "num_mentions_display": c.mention_count,
    }
    if c.is_floor:
        out["unread_count_is_floor"] = out["mention_count_is_floor"] = True
    return out
