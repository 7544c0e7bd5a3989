"""Slack's ``search.messages`` match objects for the rows a plan found."""

from __future__ import annotations

import uuid

import orjson

from origin.models import JSON, MESSAGE_FIELDS, permalink
from origin.search import SearchQuery, highlight
from origin.service.auth import Caller
from origin.service.search.scope import Channel
from origin.store.db import Conn, Row
from wire.ids import ts_str
from wire.visibility import is_public_kind

_IID = uuid.UUID("5c0d6f1e-8f3a-4b7e-9a51-3d2f0c1b7e44")


async def render(
    conn: Conn,
    caller: Caller,
    channels: dict[str, Channel],
    hits: list[Row],
    query: SearchQuery | None,
    base_url: str,
) -> list[JSON]:
    """Match objects for ``hits`` (channel_id, ts, score, ...), in their order; ``query``
    to mark its words in the text."""
    if not hits:
        return []
    keys = [(str(h[0]), int(h[1])) for h in hits]
    rows = await conn.fetchall(
        f"SELECT {MESSAGE_FIELDS} FROM messages WHERE "
        + " OR ".join(["(channel_id = ? AND ts = ?)"] * len(keys)),
        [v for key in keys for v in key],
    )
    by_key = {(str(r[0]), int(r[1])): r for r in rows}
    names = await _names(conn, caller, sorted({str(r[3]) for r in rows if r[3] is not None}))
    partners = await _dm_partners(conn, caller, sorted({c for c, _ in keys if channels[c].kind == "im"}))
    out = []
    for hit, key in zip(hits, keys, strict=True):
        row = by_key.get(key)
        if row is None:
            continue
        channel = channels[key[0]]
        text = str(row[4])
        match: JSON = {
            "iid": str(uuid.uuid5(_IID, f"{key[0]}/{key[1]}")),
            "team": caller.team_id,
            "channel": _channel(channel, partners.get(channel.id, caller.user_id)),
            "type": "message",
            "user": row[3],
            "username": names.get(str(row[3]), ""),
            "ts": ts_str(key[1]),
            "text": highlight(text, query) if query is not None else text,
            "permalink": permalink(base_url, key[0], key[1], None if row[6] is None else int(row[6])),
            "score": float(hit[2]),
        }
        if row[6] is not None:
            match["thread_ts"] = ts_str(int(row[6]))
        for field, column in (("blocks", 13), ("attachments", 14)):
            if row[column]:
                match[field] = orjson.loads(row[column])
        out.append(match)
    return out


async def _names(conn: Conn, caller: Caller, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await conn.fetchall(
        f"SELECT id, name FROM users WHERE team_id = ? AND id IN ({','.join('?' * len(ids))})",
        [caller.team_id, *ids],
    )
    return {str(i): str(n) for i, n in rows}


async def _dm_partners(conn: Conn, caller: Caller, ims: list[str]) -> dict[str, str]:
    """The other member of each DM (Slack names a DM by its partner's user id)."""
    if not ims:
        return {}
    rows = await conn.fetchall(
        f"SELECT channel_id, user_id FROM members WHERE channel_id IN ({','.join('?' * len(ims))}) "
        "AND user_id <> ?",
        [*ims, caller.user_id],
    )
    return {str(c): str(u) for c, u in rows}


def _channel(channel: Channel, partner: str) -> JSON:
    return {
        "id": channel.id,
        "name": partner if channel.kind == "im" else channel.name,
        "is_channel": channel.kind == "channel",
        "is_group": False,
        "is_im": channel.kind == "im",
        "is_mpim": channel.kind == "mpim",
        "is_private": not is_public_kind(channel.kind, channel.is_private),
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
    }
