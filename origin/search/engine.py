"""The search engine interface: what `origin.service.search` asks of an index, whatever runs it.

``database`` (MariaDB FULLTEXT or SQLite FTS5 in the shard itself) needs no engine object:
the service runs its plans on the shard. An index engine (`origin.search.indexer.Indexer`
over tantivy, embedded; another adapter, e.g. OpenSearch, would implement the same methods)
is registered for the shards it serves; the service finds it by the shard's `Database`.

The caller's scope (visible conversations, authors) is always computed by the service at
query time and passed in: an engine decides words, filters and order, never who may read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, Protocol

from origin.search.query import SearchQuery
from origin.store.db import Database

ENGINES: Final = ("tantivy", "database")
"""What ``--search-engine`` takes; the first is the default."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One page of one search, as the service hands it to an engine.

    `channels` and `authors` are the caller's scope, resolved at query time; `team_channels`
    is every conversation of the workspace, read after the engine's view was pinned (see
    `SearchEngine.pin`), so an engine may filter by the complement of `channels` when that
    is cheaper; None: `channels` is the filter. At most `cap` results are reachable.
    """

    team_id: str
    channels: Collection[str]
    authors: Collection[str]
    query: SearchQuery
    by_score: bool
    descending: bool
    offset: int
    limit: int
    cap: int
    team_channels: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """What a match object is rendered from, kept in an index document beside the words:
    the message as the index last applied it (current up to the read-your-writes wait)."""

    user_id: str | None
    text: str
    thread_ts: int | None
    blocks: str | None  # JSON, as the messages row keeps it
    attachments: str | None


HitRow = tuple[str, int, float, Stored | None]
"""``(channel_id, ts, score, stored)``: ``stored`` None when the engine keeps no copy."""
Hits = tuple[int, list[HitRow], bool]
"""``(total, hits, exact)``, as the database plans return."""
FileHits = tuple[int, list[HitRow], list[dict[str, Any]]]
"""``(total, hits, files)``: the file objects, one per hit."""


class SearchEngine(Protocol):
    """An index of messages and files fed from the change log."""

    name: str

    def applied(self, team_id: str) -> int:
        """The last offset of ``team_id``'s log the index has applied."""
        ...

    async def wait_for(self, team_id: str, offset: int, timeout_s: float) -> bool:
        """Wait until the index has applied ``offset`` of ``team_id``'s log (bounded):
        read-your-writes. True when it has."""
        ...

    async def search_messages(self, request: SearchRequest, view: Any = None) -> Hits:
        """One page of messages, in `view` (from `pin`) or the index as it answers now."""
        ...

    async def search_files(self, request: SearchRequest, view: Any = None) -> FileHits: ...

    async def pin(self, team_id: str) -> Any:
        """The index as it answers now, for one search (`view`): whatever the database shows
        after it includes every conversation the view has documents of."""
        ...


_BY_SHARD: dict[int, tuple[Database, SearchEngine]] = {}


def register(shards: Collection[Database], engine: SearchEngine) -> None:
    """Let `engine` answer for these shards (the origin does it at startup)."""
    for db in shards:
        _BY_SHARD[id(db)] = (db, engine)


def unregister(engine: SearchEngine) -> None:
    for key, (_, registered) in list(_BY_SHARD.items()):
        if registered is engine:
            del _BY_SHARD[key]


def engine_for(db: Database) -> SearchEngine | None:
    """The engine answering for `db`, or None: the database engine."""
    entry = _BY_SHARD.get(id(db))
    return entry[1] if entry is not None and entry[0] is db else None
