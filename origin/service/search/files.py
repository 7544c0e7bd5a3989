"""``search.files`` on the database engine: the files shared in what the caller may read.

The same documents as the tantivy engine's file documents (`origin.search.tantivy_index`):
a file is found through a share (``file_shares``) whose message still exists, in one of the
caller's conversations; it is searched by its name and title (`matches`, the reference
semantics the index agrees with); ``from:`` is the sharing message's author, the dates its
``ts``, ``in:`` its conversation. ``has:`` and ``is:`` describe messages: no file has them
(as in the index, where file documents carry no flags). Deleted files lost their shares.

The candidate shares are read newest first (MariaDB drops most with ``LIKE`` on the name and
title, sound there as its collation folds case and accents as `matches` does), at most
`CHECKED` of them; a file shared several times counts once, by its newest visible share.
`exact` is False when there were more candidates than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from origin.files.objects import FILE_COLUMNS, JSON, FileRow, file_object
from origin.search import SearchQuery, matches
from origin.service.search.plans import CHECKED, likes, relevance
from origin.service.search.scope import Channel
from origin.store.db import Conn

_FILE_COLS = ", ".join("f." + c.strip() for c in FILE_COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class FileHit:
    channel_id: str
    ts: int
    score: float
    file: JSON


def searched(name: str, title: str) -> str:
    """What a file is searched by (as the index's file documents)."""
    return f"{name} \n {title}"


async def search(
    conn: Conn,
    dialect: str,
    team_id: str,
    query: SearchQuery,
    channels: dict[str, Channel],
    authors: tuple[str, ...],
    *,
    by_score: bool,
    descending: bool,
    offset: int,
    limit: int,
    base_url: str,
    candidates: int = CHECKED,
) -> tuple[int, list[FileHit], bool]:
    """``(total, page, exact)``."""
    if query.has_link or query.has_reaction or query.has_file or query.is_thread or not channels:
        return 0, [], True
    ids = list(channels)
    conds = [f"s.team_id = ? AND s.channel_id IN ({','.join('?' * len(ids))})"]
    params: list[Any] = [team_id, *ids]
    if authors:
        conds.append(f"m.user_id IN ({','.join('?' * len(authors))})")
        params += authors
    if query.ts_from is not None:
        conds.append("s.ts >= ?")
        params.append(query.ts_from)
    if query.ts_to is not None:
        conds.append("s.ts < ?")
        params.append(query.ts_to)
    if dialect == "mysql":
        for pattern in likes(query.positive):
            conds.append("(f.name LIKE ? ESCAPE '!' OR f.title LIKE ? ESCAPE '!')")
            params += [pattern, pattern]
    rows = await conn.fetchall(
        f"SELECT s.channel_id, s.ts, {_FILE_COLS} FROM file_shares s "
        "JOIN files f ON f.id = s.file_id "
        "JOIN messages m ON m.channel_id = s.channel_id AND m.ts = s.ts "
        f"WHERE {' AND '.join(conds)} ORDER BY s.ts DESC, s.channel_id DESC LIMIT ?",
        [*params, candidates + 1],
    )
    seen: set[str] = set()
    found: list[FileHit] = []
    for row in rows[:candidates]:
        f = FileRow.of(tuple(row[2:]))
        if f.id in seen:
            continue
        seen.add(f.id)
        text = searched(f.name, f.title)
        if matches(query, text):
            score = relevance(query, text) if by_score and query.positive else 0.0
            found.append(FileHit(str(row[0]), int(row[1]), score, file_object(f, base_url)))
    if by_score and query.positive:
        found.sort(key=lambda h: (h.score, h.ts, h.channel_id), reverse=descending)
    elif not descending:
        found.reverse()
    return len(found), found[offset : offset + limit], len(rows) <= candidates
