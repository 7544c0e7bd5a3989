"""Read state at the origin: moving a member's ``last_read``, and counts read from the database.

The origin keeps only the cursor (``members.last_read``) and the messages: a post writes no
row per recipient. The edges count from the change log (:mod:`wire.readstate`); the counts
here, read straight from the tables, are the reference they are tested against and the
baseline the benchmark compares them with.

``conversations.mark`` moves the cursor forward only. An older ``ts`` is taken only with
``mark_unread=true`` (Slack's "mark unread" from a message): without it the call succeeds and
changes nothing, so a late or duplicated mark from a lagging client cannot undo a newer one.
A move is logged as ``channel_marked`` (with ``channel_type``; edges deliver it to that user's
connections as ``channel_marked``, ``group_marked`` or ``im_marked`` with the counts).
"""

from __future__ import annotations

from dataclasses import dataclass

from origin.service.access import require_member, visible
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store
from wire import mentions
from wire.ids import ts_str
from wire.readstate import DISPLAY_SUBTYPES, is_display
from wire.visibility import channel_type

_IN_CHANNEL = "(thread_ts IS NULL OR thread_ts = ts OR subtype = 'thread_broadcast')"
_SUBTYPES = ",".join(f"'{s}'" for s in sorted(DISPLAY_SUBTYPES))
_G_IN_CHANNEL = "(g.thread_ts IS NULL OR g.thread_ts = g.ts OR g.subtype = 'thread_broadcast')"
_G_DISPLAY = f"g.user_id <> ? AND (g.subtype IS NULL OR g.subtype IN ({_SUBTYPES}))"


async def mark(store: Store, caller: Caller, channel_id: str, ts: int, mark_unread: bool = False) -> bool:
    """Move the caller's cursor in ``channel_id`` to ``ts``; whether it moved."""
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        require_member(conv)
        if ts == conv.last_read or (ts < conv.last_read and not mark_unread):
            return False
        await tx.conn.execute(
            "UPDATE members SET last_read = ? WHERE channel_id = ? AND user_id = ?",
            [ts, conv.id, caller.user_id],
        )
        await tx.emit(
            {
                "type": "channel_marked",
                "channel": conv.id,
                "channel_type": channel_type(conv.kind, conv.is_private),
                "user": caller.user_id,
                "ts": ts_str(ts),
            }
        )
    return True


@dataclass(frozen=True)
class DbCounts:
    last_read: int
    unread_count: int
    unread_count_display: int
    mention_count: int
    latest: int | None


async def reference_counts(conn: Conn, channel_id: str, user_id: str) -> DbCounts | None:
    """One member's counts, the plain way: the rows after its cursor, judged one by one."""
    row = await conn.fetchone(
        "SELECT last_read FROM members WHERE channel_id = ? AND user_id = ?", [channel_id, user_id]
    )
    if row is None:
        return None
    last_read = int(row[0])
    rows = await conn.fetchall(
        "SELECT ts, user_id, subtype, thread_ts, text FROM messages WHERE channel_id = ? AND ts > ?",
        [channel_id, last_read],
    )
    unread = display = mention = 0
    for ts, user, subtype, thread_ts, text in rows:
        shown = thread_ts is None or int(thread_ts) == int(ts) or subtype == "thread_broadcast"
        own = user == user_id
        if shown:
            unread += 1
            display += int(is_display(subtype) and not own)
        found = mentions.parse(text)
        if is_display(subtype) and not own and (user_id in found.users or found.broadcast):
            mention += 1
    latest = await conn.fetchone(
        f"SELECT MAX(ts) FROM messages WHERE channel_id = ? AND {_IN_CHANNEL}", [channel_id]
    )
    return DbCounts(
        last_read, unread, display, mention, None if latest is None or latest[0] is None else int(latest[0])
    )


async def counts_for_user(
    conn: Conn, team_id: str, user_id: str
) -> list[tuple[str, int, int, int, int, int]]:
    """Every conversation of ``user_id`` with (id, last_read, unread, display, mentions, latest),
    in one grouped query: the best the origin can do without per-recipient rows. Mentions are
    matched with LIKE on the markup (``<@U..``, ``<!channel``, ``<!everyone``, ``<!here``)."""
    like = f"%<@{user_id}%"
    rows = await conn.fetchall(
        "SELECT m.channel_id, m.last_read, "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_IN_CHANNEL} THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_DISPLAY} AND {_G_IN_CHANNEL} "
        "THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_DISPLAY} AND "
        "(g.text LIKE ? OR g.text LIKE '%<!channel%' OR g.text LIKE '%<!everyone%' "
        "OR g.text LIKE '%<!here%') "
        "THEN 1 ELSE 0 END), 0), "
        "(SELECT c.last_ts FROM conversations c WHERE c.id = m.channel_id) "
        "FROM members m LEFT JOIN messages g ON g.channel_id = m.channel_id AND g.ts > m.last_read "
        "WHERE m.user_id = ? AND m.team_id = ? GROUP BY m.channel_id, m.last_read",
        [user_id, user_id, like, user_id, team_id],
    )
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5] or 0)) for r in rows]
