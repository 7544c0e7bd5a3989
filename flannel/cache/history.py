"""The latest page of a channel's history, kept at the edge between two of its events.

Why: ``conversations.history`` for the newest messages is what every client asks first when it
opens a channel (the web client's first screen waits for it), and the origin answers it from
the database (~30 ms on a quiet machine, far more under load). The edge already receives
every event of the workspaces it holds from the change log, so it can keep the origin's answer
for a channel's latest page and know exactly when it stops being true: the next event that
touches that channel.

The rule is invalidation, never patching: an answer is only ever one the origin gave, dropped
by any event that may change it (a message, an edit, a delete, a thread reply, which moves its
parent's ``reply_count``/``latest_reply``, a reaction, a pin, a file share or deletion) and
fetched again on the next read. Events known not to touch any message (read marks, membership,
profiles...) keep it; an event of a kind this module does not know drops the whole workspace's
pages (a newer origin may log something that does).

An answer fetched while an event of its channel was being applied could be older than that
event: every fetch holds a :class:`Fetch` ticket, which such an event (or a workspace-wide
drop) spoils, and a spoiled fetch's answer is not kept. Entries also name the cached workspace
object they were kept for: after a reload or an eviction (when events may have been missed)
the new object starts with nothing. A maximum age bounds what a write the change log did not
carry (an import's final thread counts) could leave stale.

Read-your-writes: a write the origin commits by group commit (a post, an edit, a delete) comes
back without the offset its event will have, so the edge cannot wait for its copy to apply it
(:mod:`flannel.writes`). A caller who just had such a write forwarded (:meth:`HistoryCache.wrote`)
is therefore answered by the origin for :data:`OWN_WRITE_S` (and its answer kept as usual):
it never reads a page from memory that may predate its own write.

Who may read it is not decided here: the caller checks the conversation's visibility with the
workspace cache's one rule (:meth:`flannel.cache.queries.Queries.can_see`, the origin's
``visible``) before asking. The answer itself is the same for every reader who may see it.

Pure and I/O-free; :mod:`flannel.read_methods` wires it to the edge's calls.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from wire import cursors
from wire.ids import parse_ts

JSON = dict[str, Any]

#: Memory a kept answer holds, per byte of its JSON (the workspace cache's calibration of
#: parsed objects, :mod:`flannel.cache.workspace`).
OBJECT_FACTOR_X10 = 33
#: The largest page kept (the web client asks 40; Slack's clients ask up to 100).
MAX_LIMIT = 100
#: The origin's default page (``conversations.history`` without ``limit``).
DEFAULT_LIMIT = 100
#: The arguments of a latest-page read: anything else (a cursor, ``latest``, ``oldest``,
#: ``inclusive``...) is some other page, asked of the origin.
PLAIN_ARGS = frozenset({"channel", "limit", "token"})

#: How long a caller's write without an offset sends its reads to the origin (longer than the
#: change log takes to bring the write back, as the edge's read-your-writes wait is).
OWN_WRITE_S = 5.0
#: Callers remembered for that; past it the oldest half is forgotten.
MAX_WRITERS = 100_000
#: Forwarded methods known to write nothing (every other one counts as a write: a read taken
#: for one only sends the caller to the origin a while, which is always correct).
READS = frozenset(
    {
        "rtm.start",
        "conversations.replies",
        "search.messages",
        "search.all",
        "search.files",
        "users.profile.get",
        "users.getPresence",
        "team.info",
        "emoji.list",
        "files.info",
    }
)

#: Events that change no message of any channel's history.
UNRELATED = frozenset(
    {
        "channel_marked",
        "group_marked",
        "im_marked",
        "mpim_marked",
        "member_joined_channel",
        "member_left_channel",
        "channel_created",
        "user_change",
        "team_join",
        "token_revoked",
        "dnd_updated",
        "dnd_updated_user",
        "emoji_changed",
        "notification_prefs_changed",
        "subteam_created",
        "subteam_updated",
        "presence_change",
        "user_typing",
        "desktop_notification",
    }
)


def limit_of(args: Mapping[str, Any]) -> int | None:
    """The page size of a latest-page read, or None when ``args`` ask another page (or a
    limit the origin would refuse: it answers that itself). As the origin reads it: absent,
    empty or 0 means its default."""
    if not PLAIN_ARGS.issuperset(args):
        return None
    raw = args.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if isinstance(raw, bool) or isinstance(raw, float):
        return None
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        return None
    if not 0 <= limit <= 1000:
        return None
    return limit or DEFAULT_LIMIT


def channels_of(event: Mapping[str, Any]) -> list[str] | None:
    """The channels whose history ``event`` may change; None: any (drop the workspace's)."""
    kind = event.get("type")
    if kind in UNRELATED:
        return []
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item")
        channel = item.get("channel") if isinstance(item, Mapping) else None
        return [channel] if isinstance(channel, str) else None
    if kind == "file_deleted":
        ids = event.get("channel_ids")
        if isinstance(ids, list) and all(isinstance(c, str) for c in ids):
            return list(ids)
        return None
    found = event.get("channel", event.get("channel_id"))
    if isinstance(found, Mapping):  # channel_rename and a few others carry the object
        found = found.get("id")
    return [found] if isinstance(found, str) else None


@dataclass(eq=False)
class Fetch:
    """One read of the origin whose answer may be kept: spoiled by any event of its channel
    applied before it is kept (then its answer may predate that event)."""

    team_id: str
    channel_id: str
    spoiled: bool = False


@dataclass
class _Entry:
    workspace: weakref.ref[Any]
    limit: int
    answer: JSON  # the origin's answer without "ok": messages, has_more, pin_count, ...
    stored_at: float
    size: int


@dataclass
class HistoryStats:
    hits: int = 0
    misses: int = 0
    kept: int = 0
    spoiled: int = 0
    dropped: int = 0  # entries an event, an age, a reload or the budget removed


class HistoryCache:
    """Latest pages by (workspace, channel), least recently used first out past ``max_bytes``
    (the memory their objects hold, estimated from their JSON's size) or ``max_entries``;
    each valid for ``max_age_s`` at most. A 40-message page is ~40 KB of memory: the default
    budget holds some 800 of them."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, max_entries: int = 20_000, max_age_s: float = 60.0):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._fetches: dict[tuple[str, str], list[Fetch]] = {}
        self._bytes = 0
        self._writers: OrderedDict[str, float] = OrderedDict()
        self.stats = HistoryStats()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    # -- reads -------------------------------------------------------------------------------

    def get(self, workspace: Any, channel_id: str, limit: int, now: float) -> JSON | None:
        """The answer to a latest-page read of ``limit`` messages, or None (ask the origin).
        ``workspace`` is the cached workspace object the caller reads (an entry kept for an
        earlier object of the same workspace is stale)."""
        key = (str(workspace.team_id), channel_id)
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if entry.workspace() is not workspace or now - entry.stored_at > self.max_age_s:
            self._drop(key)
            self.stats.misses += 1
            return None
        answer = _page(entry, limit)
        if answer is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return answer

    def begin(self, team_id: str, channel_id: str) -> Fetch:
        """A fetch from the origin is starting: events of the channel from now on spoil it."""
        fetch = Fetch(team_id, channel_id)
        self._fetches.setdefault((team_id, channel_id), []).append(fetch)
        return fetch

    def end(
        self, fetch: Fetch, workspace: Any, limit: int, answer: Mapping[str, Any] | None, now: float
    ) -> bool:
        """The fetch is over: keep ``answer`` (the origin's, decoded) when it is a good one
        and nothing spoiled the fetch; None (a failed fetch) keeps nothing. True if kept."""
        key = (fetch.team_id, fetch.channel_id)
        waiting = self._fetches.get(key)
        if waiting is not None:
            if fetch in waiting:
                waiting.remove(fetch)
            if not waiting:
                del self._fetches[key]
        if answer is None or answer.get("ok") is not True or limit > MAX_LIMIT:
            return False
        if fetch.spoiled or str(workspace.team_id) != fetch.team_id:
            self.stats.spoiled += 1
            return False
        messages = answer.get("messages")
        if not isinstance(messages, list) or not isinstance(answer.get("has_more"), bool):
            return False
        kept = {k: v for k, v in answer.items() if k != "ok"}
        size = len(orjson.dumps(kept)) * OBJECT_FACTOR_X10 // 10
        if size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(weakref.ref(workspace), limit, kept, now, size)
        self._bytes += size
        self.stats.kept += 1
        while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))
        return True

    # -- the callers' own writes -----------------------------------------------------------

    def wrote(self, key: str, method: str, now: float) -> None:
        """The caller ``key`` (a token hash or ``TEAM:USER``, as :mod:`flannel.writes` names
        callers) had ``method`` forwarded, and the origin said no offset: unless the method is
        one of :data:`READS`, it may have been a group-committed write."""
        if method in READS:
            return
        self._writers.pop(key, None)
        self._writers[key] = now
        if len(self._writers) > MAX_WRITERS:
            for old in list(self._writers)[: MAX_WRITERS // 2]:
                del self._writers[old]

    def writing(self, keys: tuple[str, ...], now: float) -> bool:
        """Whether one of the caller's ids wrote within :data:`OWN_WRITE_S` (then ask the origin)."""
        for key in keys:
            at = self._writers.get(key)
            if at is not None and now - at < OWN_WRITE_S:
                return True
        return False

    # -- events ------------------------------------------------------------------------------

    def apply(self, team_id: str, event: Mapping[str, Any]) -> None:
        """An event of ``team_id`` was applied to the workspace cache: drop what it may change."""
        channels = channels_of(event)
        if channels is None:
            self.drop_team(team_id)
            return
        for channel_id in channels:
            self._drop((team_id, channel_id))
            for fetch in self._fetches.get((team_id, channel_id), ()):
                fetch.spoiled = True

    def drop_team(self, team_id: str) -> None:
        """Everything of one workspace (an unknown event, a reload)."""
        for key in [k for k in self._entries if k[0] == team_id]:
            self._drop(key)
        for key, fetches in self._fetches.items():
            if key[0] == team_id:
                for fetch in fetches:
                    fetch.spoiled = True

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
            self.stats.dropped += 1


def _page(entry: _Entry, limit: int) -> JSON | None:
    """The first ``limit`` messages of a kept page, as the origin would answer them; None
    when the kept page is shorter than asked and the channel has more."""
    answer = entry.answer
    messages: list[JSON] = answer["messages"]
    if limit == entry.limit:
        return dict(answer)
    if limit > entry.limit:
        if answer["has_more"]:
            return None
        return dict(answer)  # the whole channel: nothing more to give
    if len(messages) <= limit:
        return {**answer, "messages": list(messages)}
    try:
        cursor = cursors.encode("ts", str(parse_ts(str(messages[limit - 1]["ts"]))))
    except (KeyError, ValueError):
        return None
    return {**answer, "messages": messages[:limit], "has_more": True, **cursors.metadata(cursor)}
