"""The notifier's narrow view of the origin (``notifier.ports.Source``) over the origin's store.

Injected at the composition root, so the notifier package never imports the origin: it asks
for workspaces, one conversation with its members, and people with their notification prefs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from notifier.decide import Channel
from notifier.ports import Person
from origin.service import notifyprefs
from origin.service.teams import current_offset
from origin.store.shards import Store

_CHUNK = 500


class StoreSource:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def teams(self) -> list[str]:
        return await self.store.team_ids()

    async def head(self, team_id: str) -> int:
        return await current_offset(self.store, team_id)

    async def team_name(self, team_id: str) -> str:
        async with self.store.read(team_id) as conn:
            row = await conn.fetchone("SELECT name FROM teams WHERE id = ?", [team_id])
        return str(row[0]) if row else team_id

    async def channel(self, team_id: str, channel_id: str) -> Channel | None:
        async with self.store.read(team_id) as conn:
            row = await conn.fetchone(
                "SELECT kind, is_private, name FROM conversations WHERE id = ? AND team_id = ?",
                [channel_id, team_id],
            )
            if row is None:
                return None
            members = await conn.fetchall(
                "SELECT user_id FROM members WHERE channel_id = ? AND team_id = ?",
                [channel_id, team_id],
            )
        return Channel(
            channel_id,
            str(row[0]),
            frozenset(str(m[0]) for m in members),
            bool(row[1]),
            str(row[2] or ""),
        )

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]:
        ids = sorted(set(user_ids))
        out: dict[str, Person] = {}
        async with self.store.read(team_id) as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = await conn.fetchall(
                    f"SELECT id, name, real_name, email, deleted, is_bot FROM users "
                    f"WHERE team_id = ? AND id IN ({marks})",
                    [team_id, *chunk],
                )
                prefs = await notifyprefs.load(conn, team_id, chunk)
                for uid, name, real_name, email, deleted, is_bot in rows:
                    stored = prefs[str(uid)]
                    out[str(uid)] = Person(
                        str(uid),
                        str(name or ""),
                        str(real_name or ""),
                        str(email or ""),
                        stored.tz,
                        stored.prefs,
                        stored.snooze_until,
                        stored.dnd_ended_until,
                        bool(deleted),
                        bool(is_bot),
                    )
        return out
