"""Slack's ``search.messages`` match objects for the rows a plan found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson

from origin.models import JSON, MESSAGE_FIELDS, permalink
from origin.search import SearchQuery, highlight
from origin.search.engine import Stored
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
    hits: Sequence[Row],
    query: SearchQuery | None,
    base_url: str,
) -> list[JSON]:
    """Match objects for ``hits`` (channel_id, ts, score, ...), in their order; ``query``
    to mark its words in the text.

    A hit whose fourth item is a `Stored` (an index keeps them) is rendered from it; the
    others from their rows, read in one statement (a hit whose row is gone is left out)."""
    if not hits:
        return []
    keys = [(str(h[0]), int(h[1])) for h in hits]
    shown: dict[tuple[str, int], Stored] = {}
    for hit, key in zip(hits, keys, strict=True):
        if len(hit) > 3 and isinstance(hit[3], Stored):
            shown[key] = hit[3]
    wanted = [key for key in keys if key not in shown]
    if wanted:
        rows = await conn.fetchall(
            f"SELECT {MESSAGE_FIELDS} FROM messages WHERE "
            + " OR ".join(["(channel_id = ? AND ts = ?)"] * len(wanted)),
            [v for key in wanted for v in key],
        )
        for r in rows:
            shown[(str(r[0]), int(r[1]))] = Stored(
                None if r[3] is None else str(r[3]),
                str(r[4]),
                None if r[6] is None else int(r[6]),
                r[13] or None,
                r[14] or None,
            )
    names = await _names(conn, caller, sorted({s.user_id for s in shown.values() if s.user_id is not None}))
    partners = await _dm_partners(conn, caller, sorted({c for c, _ in keys if channels[c].kind == "im"}))
    out = []
    for hit, key in zip(hits, keys, strict=True):
        stored = shown.get(key)
        if stored is None:
            continue
        channel = channels[key[0]]
        text = stored.text
        match: JSON = {
            "iid": str(uuid.uuid5(_IID, f"{key[0]}/{key[1]}")),
            "team": caller.team_id,
            "channel": _channel(channel, partners.get(channel.id, caller.user_id)),
            "type": "message",
            "user": stored.user_id,
            "username": names.get(str(stored.user_id), ""),
            "ts": ts_str(key[1]),
            "text": highlight(text, query) if query is not None else text,
            "permalink": permalink(base_url, key[0], key[1], stored.thread_ts),
            "score": float(hit[2]),
        }
        if stored.thread_ts is not None:
            match["thread_ts"] = ts_str(stored.thread_ts)
        for field, raw in (("blocks", stored.blocks), ("attachments", stored.attachments)):
            if raw:
                match[field] = orjson.loads(raw)
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
