"""Imported memberships start read: ``last_read`` is the conversation's newest imported
message, logged as ``channel_marked`` so edges agree; memberships that existed are left as
they were; the origin's own counts say nothing is unread."""

from __future__ import annotations

import orjson

from origin.service import readstate
from origin.store.shards import Store
from origin.transfer.importer import import_export
from tests.factories import make_team
from tests.origin.transfer.test_archive import SAMPLE


async def test_imported_memberships_start_at_the_newest_message(store: Store) -> None:
    team = await make_team(store)
    _, report = await import_export(store, SAMPLE, team.id)
    assert report.imported["message"] == 158
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            "SELECT m.channel_id, m.user_id, m.last_read, c.last_ts FROM members m "
            "JOIN conversations c ON c.id = m.channel_id WHERE c.team_id = ? AND c.name IN (?, ?)",
            [team.id, "enrique", "traveling-sailor"],
        )
        newest = {
            str(c): int(t)
            for c, t in await conn.fetchall(
                "SELECT channel_id, MAX(ts) FROM messages WHERE team_id = ? GROUP BY channel_id", [team.id]
            )
        }
        marks = [
            orjson.loads(p)
            for (p,) in await conn.fetchall(
                "SELECT payload FROM outbox WHERE team_id = ? AND type = 'channel_marked'", [team.id]
            )
        ]
        untouched = await conn.fetchone(
            "SELECT last_read FROM members WHERE channel_id = ? AND user_id = ?",
            [team.general, team.alice.id],
        )
    assert len(rows) == 8  # four people in two channels
    for channel_id, _user, last_read, last_ts in rows:
        assert int(last_read) == newest[str(channel_id)] == int(last_ts)
    assert sorted((m["channel"], m["user"]) for m in marks) == sorted((str(c), str(u)) for c, u, _, _ in rows)
    assert untouched is not None and int(untouched[0]) == 0  # #general was not in the export
    async with store.read(team.id) as conn:
        user = str(rows[0][1])
        counts = await readstate.counts_for_user(conn, team.id, user)
    assert counts and all(unread == display == mentions == 0 for _, _, unread, display, mentions, _ in counts)
