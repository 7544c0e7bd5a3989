"""``rtm.start``: the old fat boot payload, kept as the baseline thin clients are judged by.

Everything a fat client downloaded at login: every user, every visible conversation with
its full member list. Its size grows with the workspace; the edge's thin hello does not.
"""

from __future__ import annotations

from origin.models import CONVERSATION_COLUMNS, JSON, USER_COLUMNS, user_from_row
from origin.service.access import Visible
from origin.service.auth import Caller
from origin.store.shards import Store
from wire.visibility import is_public_kind


async def fat_boot(store: Store, caller: Caller) -> JSON:
    async with store.snapshot(caller.team_id) as conn:
        team = await conn.fetchone(
            "SELECT id, name, domain, event_seq FROM teams WHERE id = ?", [caller.team_id]
        )
        users = [
            user_from_row(r)
            for r in await conn.fetchall(
                f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? ORDER BY id",
                [caller.team_id],
            )
        ]
        members: dict[str, list[str]] = {}
        for channel_id, user_id in await conn.fetchall(
            "SELECT channel_id, user_id FROM members WHERE team_id = ? ORDER BY channel_id, user_id",
            [caller.team_id],
        ):
            members.setdefault(str(channel_id), []).append(str(user_id))
        mine = {
            str(r[0]): (int(r[1]), bool(r[2]))
            for r in await conn.fetchall(
                "SELECT channel_id, last_read, is_open FROM members WHERE user_id = ?", [caller.user_id]
            )
        }
        rows = await conn.fetchall(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ? ORDER BY id",
            [caller.team_id],
        )
    out: dict[str, list[JSON]] = {"channels": [], "groups": [], "ims": [], "mpims": []}
    for row in rows:
        cid, kind, private = str(row[0]), str(row[3]), bool(row[4])
        public = is_public_kind(kind, private)
        if not public and cid not in mine:
            continue
        obj = Visible(row, cid in mine, *mine.get(cid, (0, True))).obj()
        ids = members.get(cid, [])
        if kind == "im":
            obj["user"] = next((u for u in ids if u != caller.user_id), caller.user_id)
            out["ims"].append(obj)
            continue
        obj["members"] = ids
        bucket = "channels" if public else ("mpims" if kind == "mpim" else "groups")
        out[bucket].append(obj)
    me = next((u for u in users if u["id"] == caller.user_id), None)
    assert team is not None
    return {
        "self": {"id": caller.user_id, "name": me["name"] if me else "", "prefs": {}},
        "team": {"id": team[0], "name": team[1], "domain": team[2]},
        "latest_event_offset": int(team[3]),
        "users": users,
        **out,
        "bots": [],
    }
