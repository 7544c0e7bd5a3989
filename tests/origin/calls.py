"""Helpers for the origin's in-process API tests: a Web API call as JSON or as a form, and the
change-log events a call wrote (read from the outbox, in order)."""

from __future__ import annotations

from typing import Any

import orjson

from origin.store.shards import Store
from tests.origin.conftest import InProcess

JSON = dict[str, Any]


async def call(app: InProcess, method: str, token: str, **args: Any) -> JSON:
    """POST ``args`` as a JSON body (lists and objects stay JSON values)."""
    body: JSON = (await app.call(method, token, json=args)).json()
    return body


async def form(app: InProcess, method: str, token: str, **args: Any) -> JSON:
    """POST ``args`` as a form, lists and objects JSON-encoded as Slack's form clients send them."""
    fields = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in args.items()}
    body: JSON = (await app.call(method, token, data=fields)).json()
    return body


async def head(store: Store, team_id: str) -> int:
    async with store.read(team_id) as conn:
        row = await conn.fetchone("SELECT event_seq FROM teams WHERE id = ?", [team_id])
    return int(row[0]) if row else 0


async def events_after(store: Store, team_id: str, offset: int) -> list[JSON]:
    async with store.read(team_id) as conn:
        rows = await conn.fetchall(
            "SELECT payload FROM outbox WHERE team_id = ? AND event_offset > ? ORDER BY event_offset",
            [team_id, offset],
        )
    return [orjson.loads(r[0]) for r in rows]
