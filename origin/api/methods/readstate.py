"""``client.counts`` at the origin: the same answer the edge gives from memory
(:mod:`flannel.read_methods`), computed from the database with one grouped query
(:func:`origin.service.readstate.counts_for_user`). Edges answer their users' calls
themselves; this one is the reference, and the baseline the benchmark compares them with
(``readstate.counts_edge_over_origin``: both over HTTP, same client, same concurrency)."""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service.readstate import counts_for_user
from wire.args import Args
from wire.ids import ts_str

_GROUPS = {"channel": "channels", "mpim": "mpims", "im": "ims"}


@method("client.counts", tier=3)
async def client_counts(ctx: Context, args: Args) -> JSON:
    team, user = ctx.caller.team_id, ctx.caller.user_id
    async with ctx.store.read(team) as conn:
        rows = await counts_for_user(conn, team, user)
        kinds = {
            str(r[0]): str(r[1])
            for r in await conn.fetchall(
                "SELECT c.id, c.kind FROM conversations c JOIN members m ON m.channel_id = c.id "
                "WHERE m.user_id = ? AND m.team_id = ?",
                [user, team],
            )
        }
    out: JSON = {"channels": [], "mpims": [], "ims": []}
    for channel_id, last_read, unread, display, mentions, latest in sorted(rows):
        out[_GROUPS.get(kinds.get(channel_id, "channel"), "channels")].append(
            {
                "id": channel_id,
                "last_read": ts_str(last_read),
                "latest": ts_str(latest) if latest else None,
                "has_unreads": display > 0 or mentions > 0,
                "mention_count": mentions,
                "unread_count": unread,
                "unread_count_display": display,
            }
        )
    return out
