"""Read state: unread and mention counts and each conversation's latest message, from the log.

The truth at the origin is each membership's ``last_read`` cursor plus the messages; nothing
is written per recipient per message. Whoever follows the change log (the edge) keeps, per
conversation, a bounded window of its most recent messages (channel messages and thread
replies alike) and, per membership, ``last_read``; every count is then a walk over the window.

Rules (Slack's):

- ``unread_count``: channel-level messages after ``last_read`` (a thread reply counts toward
  its thread, not the channel, unless it is a ``thread_broadcast``);
- ``unread_count_display``: the same without the reader's own and without system subtypes
  (joins, leaves, topic changes...);
- ``mention_count``: messages after ``last_read``, thread replies included, not the reader's
  own nor system ones, that name the reader (``<@U..>``) or ``<!channel>``, ``<!everyone>``,
  ``<!here>`` (the edge does not know presence, so ``<!here>`` counts for every member);
- ``has_unreads``: ``unread_count_display`` or ``mention_count`` is not zero.

When ``last_read`` is older than the window reaches, the counts are what the window holds and
say so: ``unread_count_is_floor: true`` (``mention_count_is_floor`` likewise): a floor, never a
wrong count. A deleted message leaves the window; an edited one is re-read in place (counted
once, its mentions as they are now). Timestamps are integers of microseconds (``wire.ids``).

Snapshot pages (the origin reads them in the snapshot's transaction, see ``page_items``):

- ``{"type": "reads", "items": [{"channel", "floor", "messages": [entry...]}]}`` where
  ``floor`` is the ts of the newest message left out of the window (0: nothing left out) and
  an entry is ``[ts, user, subtype, in_channel, preview, [mentioned user ids], [specials]]``,
  oldest first;
- ``{"type": "last_read", "items": [[channel, user, ts], ...]}``: memberships whose cursor is
  not 0.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wire import mentions
from wire.ids import parse_ts, ts_str

JSON = dict[str, Any]

WINDOW = 100
PREVIEW_CHARS = 100
#: Subtypes of ordinary messages a person or an app wrote; any other subtype is a system one.
DISPLAY_SUBTYPES = frozenset({"me_message", "thread_broadcast", "bot_message", "file_share"})
_MENTION_ALL = frozenset({"channel", "everyone", "here"})
#: Memory per window, per entry (its object, slots in the window's dict and list, ts, user id,
#: mention tuple; its preview's characters are counted apart) and per ``last_read`` cursor;
#: calibrated with tracemalloc on edge-shaped read state (see ``ReadState.estimate_bytes``).
_WINDOW_BYTES = 480
_ENTRY_BYTES = 525
_CURSOR_BYTES = 125


def is_display(subtype: object) -> bool:
    return subtype is None or subtype in DISPLAY_SUBTYPES


def in_channel(ts: int, thread_ts: int | None, subtype: object) -> bool:
    """Whether a message shows in the channel: not a thread reply, or a broadcast one."""
    return thread_ts is None or thread_ts == ts or subtype == "thread_broadcast"


def preview(text: object) -> str:
    return text[:PREVIEW_CHARS] if isinstance(text, str) else ""


@dataclass(slots=True)
class Entry:
    """One message of the window: what counting and the ``latest`` preview need."""

    ts: int
    user: str
    display: bool
    in_channel: bool
    preview: str
    users: tuple[str, ...] = ()
    broadcast: frozenset[str] = frozenset()

    def mentions(self, user_id: str) -> bool:
        return user_id in self.users or bool(self.broadcast & _MENTION_ALL)

    def to_wire(self, subtype: str | None) -> list[Any]:
        return [
            self.ts,
            self.user,
            subtype,
            self.in_channel,
            self.preview,
            list(self.users),
            sorted(self.broadcast),
        ]

    @classmethod
    def from_wire(cls, item: list[Any]) -> Entry:
        ts, user, subtype, shown, text, users, specials = item
        return cls(
            int(ts),
            str(user or ""),
            is_display(subtype),
            bool(shown),
            str(text),
            tuple(users),
            frozenset(specials),
        )

    @classmethod
    def of_message(cls, message: Mapping[str, Any]) -> Entry:
        """From a message as the log carries it (``ts`` and ``thread_ts`` as Slack strings)."""
        ts = parse_ts(str(message["ts"]))
        raw_thread = message.get("thread_ts")
        thread_ts = parse_ts(str(raw_thread)) if raw_thread else None
        subtype = message.get("subtype")
        found = mentions.parse(message.get("text"))
        return cls(
            ts,
            str(message.get("user") or ""),
            is_display(subtype),
            in_channel(ts, thread_ts, subtype),
            preview(message.get("text")),
            found.users,
            found.broadcast,
        )


@dataclass(slots=True)
class Counts:
    """One member's counts in one conversation (a value: nobody edits one after it is made;
    not ``frozen`` because a frozen dataclass's ``__init__`` costs several times more, and one
    is made per conversation per read)."""

    last_read: int
    unread_count: int
    unread_count_display: int
    mention_count: int
    is_floor: bool
    latest: Entry | None

    @property
    def has_unreads(self) -> bool:
        return self.unread_count_display > 0 or self.mention_count > 0

    def fields(self) -> JSON:
        """Slack's field names, as the hello, ``conversations.info`` and ``client.counts`` use."""
        out: JSON = {
            "last_read": ts_str(self.last_read),
            "latest": latest_object(self.latest),
            "unread_count": self.unread_count,
            "unread_count_display": self.unread_count_display,
            "mention_count": self.mention_count,
            "has_unreads": self.has_unreads,
        }
        if self.is_floor:
            out["unread_count_is_floor"] = out["mention_count_is_floor"] = True
        return out


def latest_object(entry: Entry | None) -> JSON | None:
    if entry is None:
        return None
    return {"type": "message", "ts": ts_str(entry.ts), "user": entry.user, "text": entry.preview}


class _Summary:
    """A window's counts, indexed for O(log n) reads: prefix sums over the window's entries
    (in channel; in channel and display; display and naming everyone) and, per user, the ts
    of the entries that user's own counts leave out or add (their own messages; messages
    naming them). Built on the first read after a change; a window changes far less often
    than its members read it."""

    __slots__ = ("bcast", "disp", "inch", "latest", "named", "order", "own_bcast", "own_disp")

    def __init__(self, window: Window) -> None:
        self.order = list(window.order)
        self.inch = inch = [0]
        self.disp = disp = [0]
        self.bcast = bcast = [0]
        self.own_disp: dict[str, list[int]] = {}
        self.own_bcast: dict[str, list[int]] = {}
        self.named: dict[str, list[int]] = {}
        self.latest: Entry | None = None
        entries = window.entries
        for ts in self.order:
            e = entries[ts]
            everyone = e.display and bool(e.broadcast & _MENTION_ALL)
            inch.append(inch[-1] + e.in_channel)
            disp.append(disp[-1] + (e.in_channel and e.display))
            bcast.append(bcast[-1] + everyone)
            if e.in_channel:
                self.latest = e
                if e.display:
                    self.own_disp.setdefault(e.user, []).append(ts)
            if everyone:
                self.own_bcast.setdefault(e.user, []).append(ts)
            elif e.display:
                for named in e.users:
                    if named != e.user:
                        self.named.setdefault(named, []).append(ts)

    def count(self, user_id: str, last_read: int, floor: int) -> Counts:
        order = self.order
        is_floor = last_read < floor
        if not order or last_read >= order[-1]:
            return Counts(last_read, 0, 0, 0, is_floor, self.latest)
        i = bisect_right(order, last_read)
        unread = self.inch[-1] - self.inch[i]
        display = self.disp[-1] - self.disp[i] - _after(self.own_disp.get(user_id), last_read)
        mention = (
            self.bcast[-1]
            - self.bcast[i]
            - _after(self.own_bcast.get(user_id), last_read)
            + _after(self.named.get(user_id), last_read)
        )
        return Counts(last_read, unread, display, mention, is_floor, self.latest)


def _after(ts_list: list[int] | None, last_read: int) -> int:
    return len(ts_list) - bisect_right(ts_list, last_read) if ts_list else 0


@dataclass(slots=True)
class Window:
    """The newest messages of one conversation, ordered by ts, at most ``size`` of them."""

    size: int
    floor: int = 0  # the ts of the newest message no longer held (0: none ever left)
    order: list[int] = field(default_factory=list)
    entries: dict[int, Entry] = field(default_factory=dict)
    chars: int = 0  # the previews' characters held (for the memory estimate)
    summary: _Summary | None = None  # the read index, rebuilt after a change (see _Summary)
    version: int = 0  # moves with every change of entries or floor (answers cached per reader)

    def changed(self) -> None:
        """Entries or floor moved: drop the read index, move the version."""
        self.summary = None
        self.version += 1

    def add(self, entry: Entry) -> None:
        self.changed()
        old = self.entries.get(entry.ts)
        if old is not None:
            self.chars += len(entry.preview) - len(old.preview)
            self.entries[entry.ts] = entry  # a duplicate post event: keep one
            return
        if self.order and entry.ts < self.order[0] and len(self.order) >= self.size:
            self.floor = max(self.floor, entry.ts)
            return
        if not self.order or entry.ts > self.order[-1]:
            self.order.append(entry.ts)
        else:
            self.order.insert(bisect_left(self.order, entry.ts), entry.ts)
        self.entries[entry.ts] = entry
        self.chars += len(entry.preview)
        while len(self.order) > self.size:
            gone = self.order.pop(0)
            self.chars -= len(self.entries.pop(gone).preview)
            self.floor = max(self.floor, gone)

    def remove(self, ts: int) -> None:
        gone = self.entries.pop(ts, None)
        if gone is not None:
            self.changed()
            self.order.remove(ts)
            self.chars -= len(gone.preview)

    def latest(self) -> Entry | None:
        for ts in reversed(self.order):
            entry = self.entries[ts]
            if entry.in_channel:
                return entry
        return None

    def count(self, user_id: str, last_read: int) -> Counts:
        summary = self.summary
        if summary is None:
            summary = self.summary = _Summary(self)
        return summary.count(user_id, last_read, self.floor)

    def count_slowly(self, user_id: str, last_read: int) -> Counts:
        """:meth:`count` by walking the window: the rules written plainly (tests compare)."""
        unread = display = mention = 0
        for ts in self.order[bisect_right(self.order, last_read) :]:
            entry = self.entries[ts]
            own = entry.user == user_id
            if entry.in_channel:
                unread += 1
                if entry.display and not own:
                    display += 1
            if entry.display and not own and entry.mentions(user_id):
                mention += 1
        return Counts(last_read, unread, display, mention, last_read < self.floor, self.latest())


def _ts_or_zero(value: object) -> int:
    try:
        return parse_ts(value) if isinstance(value, str) else 0
    except ValueError:
        return 0


class ReadState:
    """Windows per conversation and ``last_read`` per membership, moved by change-log events.

    Memberships whose cursor is 0 (never marked) are not stored. Pure: no I/O, no clock.

    ``version`` moves with every snapshot page and every event folded in (whatever its type),
    and ``memo`` is where a reader may keep answers derived from this state: a cached answer
    stamped with ``version`` is current while the version has not moved, as long as every
    change of the state it also read (channels, memberships) comes in through the same events.
    """

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.windows: dict[str, Window] = {}
        self.last_read: dict[str, dict[str, int]] = {}
        self.version = 0
        self.memo: dict[str, Any] = {}

    def _window(self, channel_id: str) -> Window:
        found = self.windows.get(channel_id)
        if found is None:
            found = self.windows[channel_id] = Window(self.window)
        return found

    # -- snapshot ------------------------------------------------------------------------

    def add_page(self, page: Mapping[str, Any]) -> bool:
        """Fold a ``reads`` or ``last_read`` snapshot page; False for any other page."""
        self.version += 1  # any page: the caller's state moves with it
        kind = page.get("type")
        if kind == "reads":
            for item in page["items"]:
                window = self._window(str(item["channel"]))
                window.floor = max(window.floor, int(item.get("floor") or 0))
                window.changed()
                for raw in item["messages"]:
                    window.add(Entry.from_wire(raw))
            return True
        if kind == "last_read":
            for channel_id, user_id, ts in page["items"]:
                self._set(str(channel_id), str(user_id), int(ts))
            return True
        return False

    # -- events --------------------------------------------------------------------------

    def apply(self, event: Mapping[str, Any]) -> None:
        self.version += 1  # any event: the workspace it belongs to moves with it
        kind = event.get("type")
        channel = event.get("channel")
        if not isinstance(channel, str):
            return
        if kind == "message" and event.get("ts"):
            self._window(channel).add(Entry.of_message(event))
        elif kind == "message_changed":
            self._changed(channel, event.get("message"))
        elif kind == "message_deleted" and event.get("deleted_ts"):
            window = self.windows.get(channel)
            if window is not None:
                window.remove(parse_ts(str(event["deleted_ts"])))
        elif kind == "channel_marked" and event.get("ts"):
            self._set(channel, str(event["user"]), parse_ts(str(event["ts"])))
        elif kind == "member_joined_channel":
            # A joiner's cursor starts where the origin put it (the channel's newest message
            # when they joined); an event without one (older origins, imports) means 0.
            self._set(channel, str(event["user"]), _ts_or_zero(event.get("last_read")))
        elif kind == "member_left_channel":
            self._set(channel, str(event["user"]), 0)  # the origin forgets a left membership

    def _changed(self, channel_id: str, message: object) -> None:
        window = self.windows.get(channel_id)
        if window is None or not isinstance(message, Mapping) or not message.get("ts"):
            return
        old = window.entries.get(parse_ts(str(message["ts"])))
        if old is None:
            return  # older than the window: it no longer counts anywhere
        new = Entry.of_message(message)
        window.chars += len(new.preview) - len(old.preview)
        window.changed()
        old.preview, old.users, old.broadcast = new.preview, new.users, new.broadcast

    def _set(self, channel_id: str, user_id: str, ts: int) -> None:
        cursors = self.last_read.get(channel_id)
        if ts:
            if cursors is None:
                cursors = self.last_read[channel_id] = {}
            cursors[user_id] = ts
        elif cursors is not None:
            cursors.pop(user_id, None)
            if not cursors:
                del self.last_read[channel_id]

    def pages(self) -> list[JSON]:
        """This state as snapshot pages (what the origin would send for it), one of each kind."""
        reads = [
            {
                "channel": channel_id,
                "floor": w.floor,
                "messages": [
                    w.entries[ts].to_wire(None if w.entries[ts].display else "channel_join") for ts in w.order
                ],
            }
            for channel_id, w in sorted(self.windows.items())
        ]
        cursors = [
            [c, u, ts] for c, users in sorted(self.last_read.items()) for u, ts in sorted(users.items())
        ]
        return [{"type": "reads", "items": reads}, {"type": "last_read", "items": cursors}]

    def estimate_bytes(self) -> int:
        """The memory the windows and cursors hold, within ~15% of tracemalloc's figure on
        edge-shaped state (tests/wire/test_readstate_memory.py); O(conversations) to compute."""
        entries = chars = 0
        for w in self.windows.values():
            entries += len(w.order)
            chars += w.chars
        cursors = sum(map(len, self.last_read.values()))
        return _WINDOW_BYTES * len(self.windows) + _ENTRY_BYTES * entries + chars + _CURSOR_BYTES * cursors

    # -- reads ---------------------------------------------------------------------------

    def cursor(self, channel_id: str, user_id: str) -> int:
        return self.last_read.get(channel_id, {}).get(user_id, 0)

    def counts(self, channel_id: str, user_id: str) -> Counts:
        window = self.windows.get(channel_id)
        last_read = self.cursor(channel_id, user_id)
        if window is None:
            return Counts(last_read, 0, 0, 0, False, None)
        return window.count(user_id, last_read)

    def latest(self, channel_id: str) -> Entry | None:
        window = self.windows.get(channel_id)
        return window.latest() if window is not None else None


def page_items(
    rows: Iterable[tuple[int, str | None, str | None, int | None, str]], window: int
) -> tuple[int, list[list[Any]]]:
    """One conversation's ``reads`` item from its newest ``window + 1`` rows (ts, user, subtype,
    thread_ts, text; newest first): (floor, entries oldest first). The origin's half of the
    contract, kept here so both sides agree on what an entry is."""
    listed = list(rows)
    floor = int(listed[window][0]) if len(listed) > window else 0
    out: list[list[Any]] = []
    for ts, user, subtype, thread_ts, text in reversed(listed[:window]):
        found = mentions.parse(text)
        entry = Entry(
            int(ts),
            str(user or ""),
            is_display(subtype),
            in_channel(int(ts), thread_ts, subtype),
            preview(text),
            found.users,
            found.broadcast,
        )
        out.append(entry.to_wire(subtype))
    return floor, out
