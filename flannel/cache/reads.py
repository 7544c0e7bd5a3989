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


def client_counts(reads: ReadState, channels: Mapping[str, JSON], mine: Iterable[str], user_id: str) -> JSON:
    """``client.counts`` for ``user_id``: their conversations grouped as Slack does."""
    out: JSON = {"channels": [], "mpims": [], "ims": []}
    for channel_id in sorted(mine):
        channel = channels.get(channel_id)
        if channel is None:
            continue
        group = _GROUPS.get(kind_of(channel), "channels")
        out[group].append(counts_item(reads, channel_id, user_id))
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
