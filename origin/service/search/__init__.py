"""Message search (``search.messages``): Slack's query language over what a caller may read.

The parser (`origin.search`) turns a query into words and filters; `scope` resolves the
names and narrows the search to what the caller may see; then the cheapest exact plan runs
(`plans`):

- words, and a wide scope: the full-text index ranks every match and counts them in one
  statement (``COUNT(*) OVER ()``): SQLite FTS5 ``bm25`` (negated: higher is better) or
  MariaDB ``MATCH ... AGAINST`` in boolean mode. Its cost grows with the matches of the words
  across the shard (InnoDB reads the row of every match), so
- words, and ``in:``/``from:``/dates that leave at most `SMALL_SCOPE` messages: those are
  read through the ``(channel_id, ts)`` key or the ``(user_id, ts)`` index (MariaDB drops
  most with ``LIKE``) and checked with `matches`; the score is a term frequency of our own;
- no words (filters only): messages are read newest (or oldest) first in growing time
  windows along the same keys, each with a LIMIT, so a page never reads all visible
  history; the total is counted up to `MAX_RESULTS`, all that paging can reach;
- words the engine cannot decide exactly (`MysqlMatch.needs_post_filter`; only excluded or
  unindexed words): the best `CHECKED` candidates are checked with `matches`, and the page
  and the total come from those (`Found.exact` is False when there were more candidates).

A message is searched by its text and by the text of its blocks and attachments (the
``extra_text`` column, :mod:`origin.service.content`), both in the one index. Deleted messages
are gone from the index with their rows; an edit re-indexes both (FTS5 triggers, InnoDB at
commit), so edited messages are found by their new words only.

On an index engine (`origin.search.engine`, tantivy) the index runs words, filters and order;
the scope is still read here, at query time, with the workspace's hidden conversations in the
same statement (so the index may exclude those instead). A search first waits (bounded) for
the index to apply the caller's own latest write (`writes`), and the match objects are
rendered from the fields the index stores with each message (`render`): no message rows are
read for a page of hits.

``search.files`` runs on the same engine: the index's file documents, or the database's
``files`` and ``file_shares`` (`files`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from origin.models import JSON
from origin.search import SearchQuery, SearchQueryError, parse
from origin.search.engine import SearchEngine, SearchRequest, engine_for
from origin.search.indexer import WAIT_S
from origin.search.tantivy_index import MAX_HIDDEN
from origin.service.auth import Caller
from origin.service.search import files as file_plans
from origin.service.search import plans, scope
from origin.service.search.plans import CHECKED, MAX_RESULTS
from origin.service.search.render import render
from origin.service.search.writes import own_offset
from origin.store.db import Conn, Database, Row
from origin.store.migrations import ensure_search_index
from origin.store.shards import Store
from wire.errors import invalid_arguments
from wire.ids import ts_str

log = logging.getLogger("flannel.origin.search")

__all__ = ["CHECKED", "MAX_RESULTS", "Found", "parse_query", "search_files", "search_messages"]

MAX_QUERY_CHARS = 1000
MAX_COUNT = 100
MAX_PAGE = MAX_RESULTS // MAX_COUNT
SORTS = ("score", "timestamp")
SORT_DIRS = ("desc", "asc")
MIN_COMPLEMENT = 64
"""Visible conversations from which an index may run the scope as its complement."""
SMALL_SCOPE = {"sqlite": 2000, "mysql": 20_000}
"""At most this many messages in the scope of in:/from:/dates: read them and skip the index.
InnoDB fetches the row of every match (about 17 µs each when its buffer pool is too small to
hold the table), while a key range reads rows in order with LIKE evaluated in the server;
FTS5 is cheap throughout."""


@dataclass(frozen=True, slots=True)
class Found:
    total: int
    matches: list[JSON]
    exact: bool = True
    """False when `total` counts only the candidates read (see the module docstring)."""


def parse_query(q: str, today: date | None = None) -> SearchQuery:
    """The parsed query, or ``invalid_arguments`` with the parser's reason."""
    if len(q) > MAX_QUERY_CHARS:
        raise invalid_arguments("query", f"is longer than {MAX_QUERY_CHARS} characters")
    try:
        return parse(q, today or datetime.now(UTC).date())
    except SearchQueryError as exc:
        raise invalid_arguments("query", str(exc)) from None


def _check_sort(sort: str, sort_dir: str) -> None:
    if sort not in SORTS or sort_dir not in SORT_DIRS:
        raise invalid_arguments("sort", f"sort is one of {SORTS}, sort_dir one of {SORT_DIRS}")


async def search_messages(
    store: Store,
    caller: Caller,
    q: str,
    *,
    count: int = 20,
    offset: int = 0,
    sort: str = "score",
    sort_dir: str = "desc",
    highlight_words: bool = False,
    base_url: str = "",
    today: date | None = None,
) -> Found:
    """One page (``offset``, ``count``) of the messages ``caller`` may read that match ``q``."""
    _check_sort(sort, sort_dir)
    query = parse_query(q, today)
    db = await store.shard_of(caller.team_id)
    index = engine_for(db)
    view = None
    if index is not None:
        await _read_your_writes(index, db, caller)
        view = await index.pin(caller.team_id)  # before the scope is read: see _request
    else:
        await ensure_search_index(db)  # the database engine's plans read its full-text index
    async with db.snapshot() as conn:
        seen = await scope.scope(conn, caller, query, MAX_HIDDEN if index is not None else None)
        channels = seen.channels
        authors = tuple(sorted(await scope.users(conn, caller, query.from_users)))
        if not channels or (query.from_users and not authors) or offset >= MAX_RESULTS:
            return Found(0, [])
        hits: Sequence[Row]
        if index is not None:
            request = _request(caller, query, seen, authors, sort, sort_dir, offset, count)
            total, hits, exact = await index.search_messages(request, view)
        else:
            total, hits, exact = await _run(conn, db, query, channels, authors, sort, sort_dir, offset, count)
        found = await render(conn, caller, channels, hits, query if highlight_words else None, base_url)
    return Found(total, found, exact)


async def search_files(
    store: Store,
    caller: Caller,
    q: str,
    *,
    count: int = 20,
    offset: int = 0,
    sort: str = "score",
    sort_dir: str = "desc",
    base_url: str = "",
    today: date | None = None,
) -> Found:
    """One page of the files shared in conversations ``caller`` may read, matching ``q`` by
    name and title (and the same modifiers as messages: see `files`), on the workspace's
    engine: its index, or the database's ``files`` and ``file_shares``."""
    _check_sort(sort, sort_dir)
    query = parse_query(q, today)
    db = await store.shard_of(caller.team_id)
    index = engine_for(db)
    view = None
    if index is not None:
        await _read_your_writes(index, db, caller)
        view = await index.pin(caller.team_id)
    async with db.snapshot() as conn:
        seen = await scope.scope(conn, caller, query, MAX_HIDDEN if index is not None else None)
        channels = seen.channels
        authors = tuple(sorted(await scope.users(conn, caller, query.from_users)))
        if not channels or (query.from_users and not authors) or offset >= MAX_RESULTS:
            return Found(0, [])
        if index is None:
            total, page, exact = await file_plans.search(
                conn,
                db.dialect,
                caller.team_id,
                query,
                channels,
                authors,
                by_score=sort == "score",
                descending=sort_dir == "desc",
                offset=offset,
                limit=count,
                base_url=base_url,
            )
            shown = [(h.channel_id, h.ts, h.score, h.file) for h in page]
    if index is not None:
        request = _request(caller, query, seen, authors, sort, sort_dir, offset, count)
        total, hits, objs = await index.search_files(request, view)
        shown = [(h[0], h[1], h[2], f) for h, f in zip(hits, objs, strict=True)]
        exact = True
    matches = []
    for channel, ts, score, f in shown:
        shared = channels[channel]
        match = dict(f)
        match.setdefault("channels" if shared.kind == "channel" else "ims", [channel])
        match["score"] = score
        match["ts"] = ts_str(ts)
        matches.append(match)
    return Found(total, matches, exact)


def _request(
    caller: Caller,
    query: SearchQuery,
    seen: scope.Scope,
    authors: tuple[str, ...],
    sort: str,
    sort_dir: str,
    offset: int,
    count: int,
) -> SearchRequest:
    """What the index is asked. ``team_channels``: every conversation of the workspace (the
    visible ones and the hidden ones the scope read), for an index to exclude the hidden ones
    rather than list the visible ones (cheaper for a member of most of them). Read after the
    index view was pinned, so it names every conversation the view has documents of: the
    complement is exact. ``in:`` narrows the scope to a few, and a small scope is cheap to
    list: no complement then."""
    team = None
    if seen.hidden is not None and len(seen.channels) >= MIN_COMPLEMENT:
        team = [*seen.channels, *seen.hidden]
    return SearchRequest(
        team_id=caller.team_id,
        channels=seen.channels,
        authors=authors,
        query=query,
        by_score=sort == "score",
        descending=sort_dir == "desc",
        offset=offset,
        limit=count,
        cap=MAX_RESULTS,
        team_channels=team,
    )


async def _read_your_writes(index: SearchEngine, db: Database, caller: Caller) -> None:
    """Wait (at most `WAIT_S`) until the index has applied the caller's own latest write
    (`writes.own_offset`): whoever just posted (edited, deleted, reacted) finds it. Others'
    writes are not waited for: the index follows them within its lag. Costs one key range
    read, empty when the index is current."""
    team_id = caller.team_id
    applied = index.applied(team_id)
    wanted = await own_offset(db, team_id, caller.user_id, applied)
    if wanted > applied and not await index.wait_for(team_id, wanted, WAIT_S):
        log.warning("search index of %s behind offset %d after %.1f s", team_id, wanted, WAIT_S)


async def _run(
    conn: Conn,
    db: Database,
    query: SearchQuery,
    channels: dict[str, scope.Channel],
    authors: tuple[str, ...],
    sort: str,
    sort_dir: str,
    offset: int,
    count: int,
) -> plans.Plan:
    """Pick the plan (see the module docstring) and run it."""
    text = await plans.text_plan(conn, db, query)
    where = plans.conditions(query, channels, authors, text.like)
    small = SMALL_SCOPE[db.dialect]
    if text.match is not None and not await _small(conn, query, where, small):
        keys = (["score"] if sort == "score" else []) + ["m.ts", "m.channel_id"]
        order = ", ".join(f"{k} {sort_dir}" for k in keys)
        if text.check:
            return await plans.ranked_checked(conn, query, text, where, order, offset, count, small)
        return await plans.ranked(conn, text, where, order, offset, count)
    if query.positive or query.excluded:
        where = plans.conditions(query, channels, authors, text.like_all)
        by_score = sort == "score" and bool(query.positive)
        candidates = small if text.match is not None else CHECKED
        return await plans.scan_checked(
            conn, query, channels, where, by_score, sort_dir, offset, count, candidates
        )
    return await plans.scanned(conn, channels, where, sort_dir, offset, count)


async def _small(conn: Conn, query: SearchQuery, where: plans.Where, small: int) -> bool:
    """Whether in:/from:/dates leave at most ``small`` messages (an index-only count)."""
    if not (query.in_channels or query.in_users or where.authors or where.lo or where.hi):
        return False
    return await plans.count(conn, *where.scope(where.lo, where.hi), small + 1) <= small
