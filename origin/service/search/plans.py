"""The ways a search runs on the database; the package docstring says which is picked when.

Every plan returns ``(total, rows, exact)``: rows start with ``(channel_id, ts, score)`` and
``exact`` is False when the total counts only the candidates that were read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from origin.search import INNODB_STOPWORDS, SearchQuery, matches, to_fts5, to_mysql
from origin.search.query import tokens
from origin.service.search.scope import Channel
from origin.store.db import Conn, Database, Row

MAX_RESULTS = 10_000
"""The deepest result paging can reach (100 pages of 100); scanned totals stop there."""
CHECKED = 2000
"""Candidates checked with `matches` when the engine cannot decide the words itself."""
FIRST_WINDOW_US = 3600 * 1_000_000
FILE_SHARE = "file_share"
"""The subtype of a message that shares files: what ``has:file`` finds."""
Plan = tuple[int, list[Row], bool]
SEARCHED = "m.text, m.extra_text"
"""What a message is searched by: its text and the text of its blocks and attachments
(``extra_text``, schema version 5), both in the full-text index."""


def searched(text: Any, extra_text: Any) -> str:
    """The words `matches` checks: the text, then the blocks' and attachments' text."""
    return str(text) if not extra_text else f"{text}\n{extra_text}"


@dataclass(frozen=True, slots=True)
class Text:
    """How the words of a query run on this database."""

    match: str | None  # WHERE fragment of the full-text index; None: no indexable word
    params: tuple[Any, ...]  # for `match`, and for `score` when it repeats `match`
    score: str  # SELECT expression, higher is better
    source: str  # FROM clause
    check: bool  # rows the index finds must still pass `matches`
    like: tuple[str, ...]  # sound LIKE pre-filters: words the index skips (MariaDB)
    like_all: tuple[str, ...]  # ... and every positive word, for reads that skip the index

    def select(self, cols: str, where: str) -> tuple[str, list[Any]]:
        """``SELECT channel_id, ts, score, <cols> FROM ... WHERE <match> AND <where>``."""
        sql = f"SELECT m.channel_id, m.ts, {self.score} AS score, {cols} FROM {self.source}"
        return f"{sql} WHERE {self.match} AND {where}", [
            *(self.params if "?" in self.score else ()),
            *self.params,
        ]


@dataclass(frozen=True, slots=True)
class Where:
    """The conditions besides the words, over ``messages m``."""

    channels: list[str]
    authors: tuple[str, ...]
    lo: int | None  # ts >= lo
    hi: int | None  # ts < hi
    flags: str  # has:, is:, LIKE pre-filters, as " AND ..."
    flag_params: list[Any]

    def scope(self, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
        """Conversations, authors and a ts range: what the key and indexes can narrow."""
        sql = f"m.channel_id IN ({_marks(self.channels)})"
        params: list[Any] = [*self.channels]
        if self.authors:
            sql += f" AND m.user_id IN ({_marks(self.authors)})"
            params += self.authors
        for op, bound in ((">=", lo), ("<", hi)):
            if bound is not None:
                sql += f" AND m.ts {op} ?"
                params.append(bound)
        return sql, params

    def all(self, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
        sql, params = self.scope(lo, hi)
        return sql + self.flags, params + self.flag_params

    def full(self) -> tuple[str, list[Any]]:
        return self.all(self.lo, self.hi)


_FT_SETTINGS: dict[str, tuple[int, int, frozenset[str]]] = {}


async def _innodb_settings(conn: Conn, db: Database) -> tuple[int, int, frozenset[str]]:
    """What the server indexes as a word (read once per database)."""
    if db.url not in _FT_SETTINGS:
        row = await conn.fetchone(
            "SELECT @@innodb_ft_min_token_size, @@innodb_ft_max_token_size, @@innodb_ft_enable_stopword"
        )
        assert row is not None
        stop = INNODB_STOPWORDS if int(row[2]) else frozenset()
        _FT_SETTINGS[db.url] = (int(row[0]), int(row[1]), stop)
    return _FT_SETTINGS[db.url]


def likes(items: tuple[str, ...]) -> tuple[str, ...]:
    """``LIKE '%word%'`` for each word `matches` will look for: sound on MariaDB, whose
    collation ignores case and accents as `matches` does (SQLite's LIKE folds ASCII only)."""
    words = dict.fromkeys(w for item in items for w in tokens(item))
    return tuple("%" + w.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%" for w in words)


async def text_plan(conn: Conn, db: Database, query: SearchQuery) -> Text:
    if db.dialect == "sqlite":
        expr = to_fts5(query)
        if expr is None:
            return Text(None, (), "0", "messages m", bool(query.excluded), (), ())
        # CROSS JOIN keeps the index outermost: SQLite would otherwise walk a channel's rows
        # and run the MATCH once per row.
        source = "messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid"
        return Text("messages_fts MATCH ?", (expr,), "-messages_fts.rank", source, False, (), ())
    # InnoDB checks a phrase by reading each candidate's document again: cheaper to require
    # its words and check the adjacency here, with `matches`.
    words = replace(query, terms=query.terms + tuple(w for p in query.phrases for w in p.split()), phrases=())
    lo, hi, stop = await _innodb_settings(conn, db)
    m = to_mysql(words, min_token_size=lo, max_token_size=hi, stopwords=stop)
    like, like_all = likes(m.residual), likes(query.positive)
    check = m.needs_post_filter or bool(query.phrases)
    if m.against is None:
        return Text(None, (), "0", "messages m", check, like, like_all)
    match = "MATCH(m.text, m.extra_text) AGAINST(? IN BOOLEAN MODE)"
    return Text(match, (m.against,), match, "messages m", check, like, like_all)


def conditions(
    query: SearchQuery, channels: dict[str, Channel], authors: tuple[str, ...], like: tuple[str, ...]
) -> Where:
    conds: list[str] = []
    params: list[Any] = []
    if query.has_link:
        conds.append("(m.text LIKE ? OR m.text LIKE ? OR m.extra_text LIKE ? OR m.extra_text LIKE ?)")
        params += ["%http://%", "%https://%"] * 2
    if query.has_reaction:
        conds.append("EXISTS (SELECT 1 FROM reactions r WHERE r.channel_id = m.channel_id AND r.ts = m.ts)")
    if query.is_thread:
        conds.append("m.thread_ts IS NOT NULL")
    if query.has_file:
        conds.append(f"m.subtype = '{FILE_SHARE}'")
    for pattern in like:
        conds.append("(m.text LIKE ? ESCAPE '!' OR m.extra_text LIKE ? ESCAPE '!')")
        params += [pattern, pattern]
    flags = "".join(f" AND {c}" for c in conds)
    return Where(list(channels), authors, query.ts_from, query.ts_to, flags, params)


async def count(conn: Conn, cond: str, params: list[Any], cap: int) -> int:
    """Rows of ``messages m`` meeting ``cond``, counted up to ``cap``."""
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM messages m WHERE {cond} LIMIT ?) t"
    row = await conn.fetchone(sql, [*params, cap])
    return int(row[0]) if row else 0


async def ranked(conn: Conn, text: Text, where: Where, order: str, offset: int, limit: int) -> Plan:
    """The page and the exact total from the full-text index, in one statement."""
    cond, params = where.full()
    sql, head = text.select("COUNT(*) OVER ()", cond)
    rows = await conn.fetchall(f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", [*head, *params, limit, offset])
    if rows or not offset:
        return (int(rows[0][3]) if rows else 0), rows, True
    total = await conn.fetchone(
        f"SELECT COUNT(*) FROM {text.source} WHERE {text.match} AND {cond}", [*text.params, *params]
    )
    return (int(total[0]) if total else 0), [], True


async def ranked_checked(
    conn: Conn,
    query: SearchQuery,
    text: Text,
    where: Where,
    order: str,
    offset: int,
    limit: int,
    candidates: int,
) -> Plan:
    """The best ``candidates`` + 1 matches of the index, kept where `matches` agrees."""
    cond, params = where.full()
    sql, head = text.select(SEARCHED, cond)
    rows = await conn.fetchall(f"{sql} ORDER BY {order} LIMIT ?", [*head, *params, candidates + 1])
    passing = [r for r in rows[:candidates] if matches(query, searched(r[3], r[4]))]
    return len(passing), passing[offset : offset + limit], len(rows) <= candidates


async def scan_checked(
    conn: Conn,
    query: SearchQuery,
    channels: dict[str, Channel],
    where: Where,
    by_score: bool,
    direction: str,
    offset: int,
    limit: int,
    candidates: int,
) -> Plan:
    """Up to ``candidates`` + 1 rows in time order, checked with `matches`, scored here."""
    rows = await window_scan(conn, channels, where, direction, candidates + 1, SEARCHED)
    texts = [(r, searched(r[2], r[3])) for r in rows[:candidates]]
    passing = [(r[0], r[1], relevance(query, text)) for r, text in texts if matches(query, text)]
    if by_score:
        passing.sort(key=lambda r: (r[2], r[1], r[0]), reverse=direction == "desc")
    return len(passing), passing[offset : offset + limit], len(rows) <= candidates


async def scanned(
    conn: Conn, channels: dict[str, Channel], where: Where, direction: str, offset: int, limit: int
) -> Plan:
    """Filters only: newest (or oldest) first; the total is counted up to `MAX_RESULTS`."""
    rows = await window_scan(conn, channels, where, direction, offset + limit, "0")
    if len(rows) < offset + limit:
        return len(rows), rows[offset:], True
    total = await count(conn, *where.full(), MAX_RESULTS + 1)
    return min(total, MAX_RESULTS), rows[offset:], total <= MAX_RESULTS


async def window_scan(
    conn: Conn, channels: dict[str, Channel], where: Where, direction: str, limit: int, extra: str
) -> list[Row]:
    """The first ``limit`` rows ``(channel_id, ts, <extra>)`` in ts order.

    Reads time windows from the newest (oldest) end, an hour first and eight times wider each
    time: one range of the ``(channel_id, ts)`` key per conversation (or of ``(user_id, ts)``)
    with a LIMIT, so a page of a busy workspace reads about a page of rows. The last window
    is open-ended: nothing outside the conversations' known lifetimes is missed.
    """
    desc = direction == "desc"
    newest = max(c.last_ts for c in channels.values()) + 1
    oldest = min(c.created_us for c in channels.values())
    if desc:  # from `edge` down to `stop`
        edge, stop = min(newest, where.hi or newest), max(oldest, where.lo or oldest)
    else:
        edge, stop = max(oldest, where.lo or oldest), min(newest, where.hi or newest)
    rows: list[Row] = []
    near, width, final = (where.hi if desc else where.lo), FIRST_WINDOW_US, False
    while len(rows) < limit and not final:
        far: int | None = edge - width if desc else edge + width
        final = far <= stop if desc else far >= stop  # type: ignore[operator]
        if final:
            far = where.lo if desc else where.hi
        cond, params = where.all(far, near) if desc else where.all(near, far)
        rows += await conn.fetchall(
            f"SELECT m.channel_id, m.ts, {extra} FROM messages m WHERE {cond} "
            f"ORDER BY m.ts {direction}, m.channel_id {direction} LIMIT ?",
            [*params, limit - len(rows)],
        )
        near, width = far, width * 8
    return rows


def relevance(query: SearchQuery, text: str) -> float:
    """Occurrences of the positive words and phrases, damped by the message's length."""
    words = tokens(text)
    hits = 0
    for needle in {t for t in map(tokens, query.positive) if t}:
        n = len(needle)
        hits += sum(1 for i in range(len(words) - n + 1) if words[i : i + n] == needle)
    return hits / math.sqrt(max(1, len(words)))


def _marks(items: Any) -> str:
    return ",".join("?" * len(items))
