"""``client.counts`` at the origin: the same answer the edge gives from memory
(:mod:`flannel.read_methods`), computed from the database in one grouped query. Edges answer
their users' calls themselves; this one is the reference, and the baseline the benchmark
compares them with (``readstate.counts_edge_over_origin``: both over HTTP, same client, same
concurrency), so it is the fastest honest query we have:

- one round trip: the conversation's kind and ``last_ts`` are joined in (no second query, no
  correlated subquery);
- the counting rules are :func:`origin.service.readstate.counts_for_user`'s, the same SQL
  (in channel, display, not the reader's own), except how a mention is found: a byte-wise
  substring test (``INSTR`` on the binary text on MariaDB) behind a test for ``<`` that
  every markup needs, rather than ``LIKE '%..%'`` under ``utf8mb4_unicode_ci``, which
  compares by collation, character by character, four times per unread message. The markup
  (``<@U..``, ``<!channel``, ``<!everyone``, ``<!here``) is case-sensitive, as the edge's
  parser (:mod:`wire.mentions`) reads it.

With no per-recipient rows the query still reads every message after each cursor: its cost
grows with the caller's unread messages, the edge's with the caller's conversations.
"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service.readstate import _G_DISPLAY, _G_IN_CHANNEL
from wire.args import Args
from wire.ids import ts_str

_GROUPS = {"channel": "channels", "mpim": "mpims", "im": "ims"}
_TEXT = {"mysql": "BINARY g.text", "sqlite": "g.text"}  # SQLite's INSTR is byte-wise already


def _mention(text: str) -> str:
    """A display message that names the reader (``?``: ``<@U..``) or everyone."""
    marks = " OR ".join(
        [f"INSTR({text}, ?) > 0"] + [f"INSTR({text}, '<!{m}') > 0" for m in ("channel", "everyone", "here")]
    )
    return f"INSTR({text}, '<') > 0 AND ({marks})"


def _query(dialect: str) -> str:
    text = _TEXT.get(dialect, "g.text")
    return (
        "SELECT m.channel_id, m.last_read, c.kind, c.last_ts, "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_IN_CHANNEL} THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_DISPLAY} AND {_G_IN_CHANNEL} "
        "THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN g.ts IS NOT NULL AND {_G_DISPLAY} AND {_mention(text)} "
        "THEN 1 ELSE 0 END), 0) "
        "FROM members m LEFT JOIN conversations c ON c.id = m.channel_id "
        "LEFT JOIN messages g ON g.channel_id = m.channel_id AND g.ts > m.last_read "
        "WHERE m.user_id = ? AND m.team_id = ? "
        "GROUP BY m.channel_id, m.last_read, c.kind, c.last_ts"
    )


_QUERIES = {dialect: _query(dialect) for dialect in _TEXT}


@method("client.counts")
async def client_counts(ctx: Context, args: Args) -> JSON:
    team, user = ctx.caller.team_id, ctx.caller.user_id
    dialect = (await ctx.store.shard_of(team)).dialect
    sql = _QUERIES.get(dialect) or _query(dialect)
    async with ctx.store.read(team) as conn:
        rows = await conn.fetchall(sql, [user, user, f"<@{user}", user, team])
    out: JSON = {"channels": [], "mpims": [], "ims": []}
    for channel_id, last_read, kind, latest, unread, display, mentions in sorted(rows):
        out[_GROUPS.get(str(kind or "channel"), "channels")].append(
            {
                "id": str(channel_id),
                "last_read": ts_str(int(last_read)),
                "latest": ts_str(int(latest)) if latest else None,
                "has_unreads": display > 0 or mentions > 0,
                "mention_count": int(mentions),
                "unread_count": int(unread),
                "unread_count_display": int(display),
            }
        )
    return out
