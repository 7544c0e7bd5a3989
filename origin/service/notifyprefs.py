"""Notification preferences and do-not-disturb, stored per user (``notification_prefs``).

The preference object is :mod:`wire.notifyprefs`'s (validated by its ``parse`` before it is
stored, so the notifier never meets a bad one); DND times are :mod:`wire.dnd`'s. A change that
moves the user's DND writes ``dnd_updated`` (to the user, with the snooze) and
``dnd_updated_user`` (to the workspace, without it) in the same transaction; any prefs change
writes ``notification_prefs_changed`` (no content: the notifier reloads).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from origin.service.access import visible
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store, WriteTx
from wire import dnd, notifyprefs
from wire.errors import SlackError, invalid_arguments
from wire.ids import now_us

JSON = dict[str, Any]
MAX_SNOOZE_MIN = 24 * 60 * 365


@dataclass(frozen=True, slots=True)
class Stored:
    """One user's row (defaults when there is none)."""

    user_id: str
    tz: str
    raw: Mapping[str, Any]
    prefs: notifyprefs.NotificationPrefs
    snooze_until: int = 0
    dnd_ended_until: int = 0

    def info(self, now: float) -> JSON:
        return dnd.info(self.prefs.dnd, self.tz, now, self.snooze_until, self.dnd_ended_until)

    def team_info(self, now: float) -> JSON:
        return dnd.team_info(self.prefs.dnd, self.tz, now, self.dnd_ended_until)


async def load(conn: Conn, team_id: str, user_ids: list[str]) -> dict[str, Stored]:
    """The stored prefs of the workspace's users among ``user_ids`` (unknown ids are left out)."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    users = await conn.fetchall(
        f"SELECT id, tz FROM users WHERE team_id = ? AND id IN ({marks})", [team_id, *user_ids]
    )
    rows = await conn.fetchall(
        "SELECT user_id, prefs, snooze_until, dnd_ended_until FROM notification_prefs "
        f"WHERE team_id = ? AND user_id IN ({marks})",
        [team_id, *user_ids],
    )
    saved = {str(r[0]): r for r in rows}
    out = {}
    for user_id, tz in users:
        row = saved.get(str(user_id))
        raw: Mapping[str, Any] = orjson.loads(row[1]) if row else {}
        out[str(user_id)] = Stored(
            str(user_id),
            str(tz or "UTC"),
            raw,
            notifyprefs.parse(raw),
            int(row[2]) if row else 0,
            int(row[3]) if row else 0,
        )
    return out


async def _mine(conn: Conn, caller: Caller) -> Stored:
    found = await load(conn, caller.team_id, [caller.user_id])
    if caller.user_id not in found:
        raise SlackError("user_not_found")
    return found[caller.user_id]


async def _save(tx: WriteTx, old: Stored, raw: Mapping[str, Any], snooze: int, ended: int) -> Stored:
    payload = orjson.dumps(raw).decode()
    # no upsert: the dialects differ, and the workspace row lock already serialises writers
    exists = await tx.conn.fetchone("SELECT 1 FROM notification_prefs WHERE user_id = ?", [old.user_id])
    if exists:
        await tx.conn.execute(
            "UPDATE notification_prefs SET prefs = ?, snooze_until = ?, dnd_ended_until = ?, updated = ? "
            "WHERE user_id = ? AND team_id = ?",
            [payload, snooze, ended, now_us(), old.user_id, tx.team_id],
        )
    else:
        await tx.conn.execute(
            "INSERT INTO notification_prefs "
            "(user_id, team_id, prefs, snooze_until, dnd_ended_until, updated) VALUES (?, ?, ?, ?, ?, ?)",
            [old.user_id, tx.team_id, payload, snooze, ended, now_us()],
        )
    new = Stored(old.user_id, old.tz, raw, notifyprefs.parse(raw), snooze, ended)
    now = time.time()
    if new.info(now) != old.info(now):
        await tx.emit({"type": "dnd_updated", "user": new.user_id, "dnd_status": new.info(now)})
        if new.team_info(now) != old.team_info(now):
            await tx.emit({"type": "dnd_updated_user", "user": new.user_id, "dnd_status": new.team_info(now)})
    return new


async def get_prefs(store: Store, caller: Caller) -> JSON:
    async with store.read(caller.team_id) as conn:
        return notifyprefs.to_json((await _mine(conn, caller)).prefs)


async def set_prefs(store: Store, caller: Caller, change: Mapping[str, Any]) -> JSON:
    """Merge ``change`` into the stored prefs (see :func:`wire.notifyprefs.merge`); a bad
    value or a channel override for a conversation the caller cannot see: ``invalid_arguments``."""
    async with store.write(caller.team_id) as tx:
        old = await _mine(tx.conn, caller)
        merged = notifyprefs.merge(old.raw, change)
        try:
            prefs = notifyprefs.parse(merged)
        except notifyprefs.PrefsError as e:
            raise invalid_arguments(f"prefs.{e.field}", e.why) from None
        new_channels = set(prefs.channels) - set(old.prefs.channels)
        for channel_id in sorted(new_channels):
            try:
                await visible(tx.conn, caller, channel_id)
            except SlackError:
                raise invalid_arguments(
                    f"prefs.channels.{channel_id}", "is not a conversation you can see"
                ) from None
        new = await _save(tx, old, merged, old.snooze_until, old.dnd_ended_until)
        await tx.emit({"type": "notification_prefs_changed", "user": caller.user_id})
        return notifyprefs.to_json(new.prefs)


async def info(store: Store, caller: Caller, user_id: str | None) -> JSON:
    """``dnd.info``: one's own status with the snooze; another member's without it."""
    now = time.time()
    async with store.read(caller.team_id) as conn:
        if user_id is None or user_id == caller.user_id:
            return (await _mine(conn, caller)).info(now)
        found = await load(conn, caller.team_id, [user_id])
    if user_id not in found:
        raise SlackError("user_not_found")
    return found[user_id].team_info(now)


async def team_info(store: Store, caller: Caller, user_ids: list[str]) -> JSON:
    """``dnd.teamInfo``: the public DND status of the given users of the caller's workspace."""
    now = time.time()
    async with store.read(caller.team_id) as conn:
        found = await load(conn, caller.team_id, user_ids)
    return {"users": {u: s.team_info(now) for u, s in found.items()}}


async def set_snooze(store: Store, caller: Caller, minutes: int) -> JSON:
    now = int(time.time())
    async with store.write(caller.team_id) as tx:
        old = await _mine(tx.conn, caller)
        new = await _save(tx, old, old.raw, now + minutes * 60, old.dnd_ended_until)
    return {
        "snooze_enabled": True,
        "snooze_endtime": new.snooze_until,
        "snooze_remaining": new.snooze_until - now,
        "snooze_is_indefinite": False,
    }


async def end_snooze(store: Store, caller: Caller) -> JSON:
    now = time.time()
    async with store.write(caller.team_id) as tx:
        old = await _mine(tx.conn, caller)
        if old.snooze_until <= now:
            raise SlackError("snooze_not_active")
        new = await _save(tx, old, old.raw, 0, old.dnd_ended_until)
    return new.info(now)


async def end_dnd(store: Store, caller: Caller) -> None:
    """``dnd.endDnd``: end the snooze and the scheduled window in progress, now."""
    now = time.time()
    async with store.write(caller.team_id) as tx:
        old = await _mine(tx.conn, caller)
        ended = old.dnd_ended_until
        if old.prefs.dnd.enabled:
            start, end = dnd.window(old.prefs.dnd, old.tz, now, ended)
            if start <= now:
                ended = end
        await _save(tx, old, old.raw, 0, ended)
