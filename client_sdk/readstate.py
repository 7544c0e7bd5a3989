"""Read state on the client: unread badges per conversation, from the hello and live events.

The hello carries each of your conversations' counts (computed by the edge from its window of
recent messages); from then on the client keeps them itself: a message from someone else in
the channel adds an unread (a mention too, if it names you or the channel), a thread reply
only a mention, and a mark on any of your devices (``channel_marked`` / ``group_marked`` /
``im_marked``) sets the counts the edge sent with it. An edit or a deletion of an unread
message adjusts them as the edge does (from the event's ``previous_message``): a deleted one
stops counting, an edited one counts once with its mentions as they are now; a deleted latest
message gives way to the one before it that this client saw. ``client.counts()`` asks the edge
again. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from client_sdk.events import ChannelMarked, Event, Message, MessageChanged, MessageDeleted
from wire.ids import parse_ts
from wire.mentions import parse

_SYSTEM_OK = frozenset({None, "me_message", "thread_broadcast", "bot_message", "file_share"})


#: In-channel message ts remembered per conversation (to fall back on when the latest goes).
SEEN = 50


def _ts(value: str | None) -> int:
    try:
        return parse_ts(value) if value else 0
    except ValueError:
        return 0


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class ReadState:
    """One conversation's badge: ``is_floor`` when the counts are at least these (the edge's
    window did not reach back to ``last_read``)."""

    channel: str
    last_read: str = "0.000000"
    latest: str | None = None
    unread_count: int = 0
    unread_count_display: int = 0
    mention_count: int = 0
    is_floor: bool = False

    @property
    def has_unreads(self) -> bool:
        return self.unread_count_display > 0 or self.mention_count > 0

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], channel: str | None = None) -> ReadState:
        latest = obj.get("latest")
        if isinstance(latest, Mapping):
            latest = latest.get("ts")
        return cls(
            channel=channel or str(obj.get("id") or obj.get("channel") or ""),
            last_read=str(obj.get("last_read") or "0.000000"),
            latest=latest if isinstance(latest, str) else None,
            unread_count=_int(obj, "unread_count"),
            unread_count_display=_int(obj, "unread_count_display"),
            mention_count=_int(obj, "mention_count"),
            is_floor=bool(obj.get("unread_count_is_floor")),
        )


class Badges:
    """The read state of the user's conversations, kept current by events."""

    def __init__(self) -> None:
        self.self_id = ""
        self.by_channel: dict[str, ReadState] = {}
        self.seen: dict[str, list[str]] = {}  # channel -> in-channel ts seen live, oldest first

    def start(self, self_id: str, channels: Iterable[Mapping[str, Any]]) -> None:
        self.self_id = self_id
        self.by_channel = {str(c["id"]): ReadState.from_json(c) for c in channels if "unread_count" in c}
        self.seen = {}

    def put(self, states: Iterable[ReadState]) -> None:
        for state in states:
            self.by_channel[state.channel] = state

    def get(self, channel: str) -> ReadState | None:
        return self.by_channel.get(channel)

    def apply(self, event: Event) -> None:
        if isinstance(event, ChannelMarked):
            old = self.by_channel.get(event.channel) or ReadState(event.channel)
            raw = event.raw
            self.by_channel[event.channel] = dataclasses.replace(
                old,
                last_read=event.ts,
                unread_count=_int(raw, "unread_count"),
                unread_count_display=event.unread_count_display,
                mention_count=event.mention_count,
                is_floor=bool(raw.get("unread_count_is_floor")),
            )
        elif not isinstance(event, Message | MessageChanged | MessageDeleted):
            return
        elif event.offset is None or event.channel not in self.by_channel:
            return
        elif isinstance(event, Message):
            self._message(event)
        elif isinstance(event, MessageChanged):
            self._changed(event)
        else:
            self._deleted(event)

    def _counts(self, m: Message) -> tuple[int, int, int]:
        """What ``m`` adds to its conversation's (unread, display, mention) counts."""
        own, shown = m.user == self.self_id, (not m.is_reply or m.subtype == "thread_broadcast")
        counted = m.subtype in _SYSTEM_OK and not own
        found = parse(m.text)
        mention = counted and (self.self_id in found.users or bool(found.broadcast))
        return int(shown), int(shown and counted), int(mention)

    def _unread(self, channel: str, ts: str) -> bool:
        return _ts(ts) > _ts(self.by_channel[channel].last_read)

    def _message(self, m: Message) -> None:
        old = self.by_channel[m.channel]
        unread, display, mention = self._counts(m)
        if unread:
            seen = self.seen.setdefault(m.channel, [])
            seen.append(m.ts)
            del seen[:-SEEN]
        self.by_channel[m.channel] = dataclasses.replace(
            old,
            latest=m.ts if unread else old.latest,
            unread_count=old.unread_count + unread,
            unread_count_display=old.unread_count_display + display,
            mention_count=old.mention_count + mention,
        )

    def _changed(self, e: MessageChanged) -> None:
        """An edit changes only what it mentions (its kind and place stay)."""
        if e.previous is None or not self._unread(e.channel, e.message.ts):
            return
        old = self.by_channel[e.channel]
        delta = self._counts(e.message)[2] - self._counts(e.previous)[2]
        if delta:
            self.by_channel[e.channel] = dataclasses.replace(
                old, mention_count=max(0, old.mention_count + delta)
            )

    def _deleted(self, e: MessageDeleted) -> None:
        old = self.by_channel[e.channel]
        seen = self.seen.get(e.channel, [])
        if e.deleted_ts in seen:
            seen.remove(e.deleted_ts)
        latest = old.latest
        if latest == e.deleted_ts:
            latest = seen[-1] if seen else latest
        unread = display = mention = 0
        if e.previous is not None and self._unread(e.channel, e.deleted_ts):
            unread, display, mention = self._counts(e.previous)
        self.by_channel[e.channel] = dataclasses.replace(
            old,
            latest=latest,
            unread_count=max(0, old.unread_count - unread),
            unread_count_display=max(0, old.unread_count_display - display),
            mention_count=max(0, old.mention_count - mention),
        )
