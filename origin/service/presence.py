"""Presence at the origin: manual away, stored (``user_presence``); online state, read.

Presence is ephemeral and lives on the edges (see ``flannel.presence``), except manual away,
which persists across connections and restarts and so is stored here. ``users.setPresence``
stores it and tells the edges over the ephemeral bus (a ``presence`` envelope whose ``manual``
says it, and a ``user_frame`` with ``manual_presence_change`` for the user's own connections):
never the change log. ``users.getPresence`` reads the edges' per-edge connection counts (the
online store, each edge's report with a TTL) to answer Slack's fields.

The bus and the online store are ports, installed by the composition root (``flannel origin``,
``flannel up``) with :func:`install`: the origin imports no adapter. Without them (an origin
alone, in some tests) nobody is online and ``setPresence`` reaches no edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from origin.service.auth import Caller
from origin.store.shards import Store
from wire import bus
from wire.bus import Counts
from wire.errors import SlackError
from wire.ids import now_us
from wire.presence import ACTIVE, AWAY, manual_presence_change

JSON = dict[str, Any]
SENDER = "origin"


class OnlineReader(Protocol):
    async def read(self, team_id: str, user_id: str | None = None) -> dict[str, dict[str, Counts]]: ...


class Publisher(Protocol):
    async def publish(self, envelope: bus.Envelope) -> None: ...


@dataclass
class _Ports:
    online: OnlineReader | None = None
    publisher: Publisher | None = None


PORTS = _Ports()


def install(online: OnlineReader | None, publisher: Publisher | None) -> None:
    PORTS.online, PORTS.publisher = online, publisher


async def manual_away(store: Store, team_id: str, user_id: str) -> bool:
    async with store.read(team_id) as conn:
        row = await conn.fetchone(
            "SELECT manual_away FROM user_presence WHERE user_id = ? AND team_id = ?", [user_id, team_id]
        )
    return bool(row and row[0])


async def manual_away_many(store: Store, pairs: list[tuple[str, str]]) -> list[bool]:
    """:func:`manual_away` for each (team_id, user_id), in order: one query per workspace."""
    by_team: dict[str, list[str]] = {}
    for team_id, user_id in pairs:
        by_team.setdefault(team_id, []).append(user_id)
    away: set[tuple[str, str]] = set()
    for team_id, user_ids in by_team.items():
        ids = sorted(set(user_ids))
        try:
            async with store.read(team_id) as conn:
                rows = await conn.fetchall(
                    "SELECT user_id FROM user_presence WHERE team_id = ? AND manual_away <> 0 "
                    f"AND user_id IN ({','.join('?' * len(ids))})",
                    [team_id, *ids],
                )
        except SlackError as exc:
            if exc.code != "team_not_found":
                raise
            continue  # an unknown workspace's users: none set manual away
        away.update((team_id, str(r[0])) for r in rows)
    return [pair in away for pair in pairs]


async def _exists(store: Store, team_id: str, user_id: str) -> bool:
    async with store.read(team_id) as conn:
        row = await conn.fetchone("SELECT 1 FROM users WHERE id = ? AND team_id = ?", [user_id, team_id])
    return row is not None


async def set_presence(store: Store, caller: Caller, presence: str) -> None:
    """``auto`` (back to automatic) or ``away`` (manual away, until ``auto``)."""
    away = presence == AWAY
    async with store.write(caller.team_id) as tx:
        found = await tx.conn.fetchone(
            "SELECT manual_away FROM user_presence WHERE user_id = ? AND team_id = ?",
            [caller.user_id, caller.team_id],
        )
        if found is None:
            await tx.conn.execute(
                "INSERT INTO user_presence (user_id, team_id, manual_away, updated) VALUES (?, ?, ?, ?)",
                [caller.user_id, caller.team_id, int(away), now_us()],
            )
        else:
            await tx.conn.execute(
                "UPDATE user_presence SET manual_away = ?, updated = ? WHERE user_id = ? AND team_id = ?",
                [int(away), now_us(), caller.user_id, caller.team_id],
            )
    publisher = PORTS.publisher
    if publisher is not None:
        team, user = caller.team_id, caller.user_id
        await publisher.publish(bus.Presence(team, SENDER, manual={user: away}))
        shown = AWAY if away else ACTIVE
        await publisher.publish(bus.UserFrame(team, SENDER, user, manual_presence_change(shown)))


async def get_presence(store: Store, caller: Caller, user_id: str) -> JSON:
    """Slack's ``users.getPresence``: ``presence`` for anyone; for oneself also ``online``,
    ``auto_away``, ``manual_away``, ``connection_count``, ``last_activity``."""
    if user_id != caller.user_id and not await _exists(store, caller.team_id, user_id):
        raise SlackError("user_not_found")
    manual = await manual_away(store, caller.team_id, user_id)
    reports = await PORTS.online.read(caller.team_id, user_id) if PORTS.online is not None else {}
    counts = [users[user_id] for users in reports.values() if user_id in users]
    total = sum(c.total for c in counts)
    active = not manual and any(c.active > 0 for c in counts)
    answer: JSON = {"presence": ACTIVE if active else AWAY}
    if user_id == caller.user_id:
        answer.update(
            online=total > 0,
            auto_away=total > 0 and not manual and not active,
            manual_away=manual,
            connection_count=total,
            last_activity=int(max((c.last_activity for c in counts), default=0)),
        )
    return answer
