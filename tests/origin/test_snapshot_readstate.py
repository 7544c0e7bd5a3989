"""The snapshot's read state is read in batches of conversations (one query per
``GROUP``), each conversation's window exactly what a query of its own gives."""

from __future__ import annotations

from typing import Any

from origin.service import conversations, messages
from origin.snapshot import readstate
from origin.store.shards import Store
from tests.factories import make_team
from wire.readstate import page_items


class Counting:
    """A connection that counts the queries it runs."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.queries = conn, 0

    async def fetchall(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        return list(await self.conn.fetchall(sql, params))


async def test_windows_come_in_batches_and_match_one_query_each(store: Store, monkeypatch: Any) -> None:
    team = await make_team(store)
    channels = [team.general]
    for n in range(6):
        channels.append((await conversations.create(store, team.alice.caller, f"batch-{n}", False))["id"])
    for i, channel in enumerate(channels):
        for j in range(i + 1):  # channel i holds i+1 messages (plus its join)
            await messages.post(store, team.alice.caller, channel, f"m{j} <@{team.bob.id}>")
    monkeypatch.setattr(readstate, "GROUP", 3)
    window = 4
    async with store.read(team.id) as conn:
        counting = Counting(conn)
        got = [p async for p in readstate.pages(counting, team.id, window=window)]  # type: ignore[arg-type]
        ids = [
            str(r[0])
            for r in await conn.fetchall("SELECT id FROM conversations WHERE team_id = ?", [team.id])
        ]
        want = []
        for channel_id in sorted(ids):
            rows = await conn.fetchall(
                "SELECT ts, user_id, subtype, thread_ts, text FROM messages WHERE channel_id = ? "
                "ORDER BY ts DESC LIMIT ?",
                [channel_id, window + 1],
            )
            if rows:
                floor, entries = page_items(
                    [(int(r[0]), r[1], r[2], None if r[3] is None else int(r[3]), str(r[4])) for r in rows],
                    window,
                )
                want.append({"channel": channel_id, "floor": floor, "messages": entries})
    reads = [item for page in got if page["type"] == "reads" for item in page["items"]]
    assert reads == want
    assert any(item["floor"] for item in reads) and len(reads) == 7  # the private channel has none
    # conversations in groups of 3, plus the id list and the last_read pages' one query
    assert counting.queries == 1 + -(-len(ids) // 3) + 1
