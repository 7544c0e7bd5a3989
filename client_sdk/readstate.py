"""Read state on the client: unread badges per conversation, from the hello and live events.

The hello carries each of your conversations' counts (computed by the edge from its window of
recent messages); from then on the client keeps them itself: a message from someone else in
the channel adds an unread (a mention too, if it names you or the channel), a thread reply
only a mention, and a mark on any of your devices (``channel_marked`` / ``group_marked`` /
``im_marked``) sets the counts the edge sent with it. ``client.counts()`` asks the edge again.
Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from client_sdk.events import ChannelMarked, Event, Message
from wire.mentions import parse

_SYSTEM_OK = frozenset({None, "me_message", "thread_broadcast", "bot_message", "file_share"})


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

    def start(self, self_id: str, channels: Iterable[Mapping[str, Any]]) -> None:
        self.self_id = self_id
        self.by_channel = {str(c["id"]): ReadState.from_json(c) for c in channels if "unread_count" in c}

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
        elif isinstance(event, Message) and event.offset is not None and event.channel in self.by_channel:
            self._message(event)

    def _message(self, m: Message) -> None:
        old = self.by_channel[m.channel]
        if m.subtype in ("message_changed", "message_deleted"):
            return  # an edit or deletion: the next hello or client.counts() has it exact
        own, shown = m.user == self.self_id, (not m.is_reply or m.subtype == "thread_broadcast")
        counted = m.subtype in _SYSTEM_OK and not own
        found = parse(m.text)
        mention = counted and (self.self_id in found.users or bool(found.broadcast))
        self.by_channel[m.channel] = dataclasses.replace(
            old,
            latest=m.ts if shown else old.latest,
            unread_count=old.unread_count + int(shown),
            unread_count_display=old.unread_count_display + int(shown and counted),
            mention_count=old.mention_count + int(mention),
        )
