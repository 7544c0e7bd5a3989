"""Writing an export's users, conversations and memberships into a workspace, inside the
import's one write transaction, each new row with its change-log event (``team_join``,
``channel_created``, ``member_joined_channel``) so edges and the snapshot agree.

What the workspace already has is merged, not written again: a user by id (or, when the id is
new, by email), a channel by id or name, a DM by its members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from origin.models import CONVERSATION_COLUMNS, USER_COLUMNS, conversation_from_row, user_from_row
from origin.store.db import Conn
from origin.store.shards import WriteTx
from origin.transfer.plan import IdMap, choose_id
from origin.transfer.report import Report
from origin.transfer.source import ConvSpec
from wire.ids import now_us
from wire.visibility import channel_type

JSON = dict[str, Any]
CHUNK = 500


@dataclass
class Target:
    """The workspace conversation an export's conversation lands in."""

    id: str
    kind: str
    is_private: bool
    is_new: bool
    #: the memberships this import made (they start read: ``importer`` moves their cursor)
    new_members: list[str] = field(default_factory=list)

    @property
    def channel_type(self) -> str:
        return channel_type(self.kind, self.is_private)


async def owners(conn: Conn, table: str, ids: Sequence[str]) -> dict[str, str]:
    """id -> workspace for those of ``ids`` present in ``table`` (users or conversations)."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), CHUNK):
        part = unique[i : i + CHUNK]
        marks = ",".join("?" * len(part))
        rows = await conn.fetchall(f"SELECT id, team_id FROM {table} WHERE id IN ({marks})", part)
        found.update({str(r[0]): str(r[1]) for r in rows})
    return found


def _s(value: Any, limit: int = 255) -> str:
    return str(value or "")[:limit]


async def import_users(tx: WriteTx, users: list[JSON], ids: IdMap, report: Report) -> None:
    team = tx.team_id
    rows = await tx.conn.fetchall("SELECT id, email FROM users WHERE team_id = ?", [team])
    mine = {str(r[0]) for r in rows}
    by_email = {str(r[1]).lower(): str(r[0]) for r in rows if r[1]}
    held = await owners(tx.conn, "users", [u["id"] for u in users if isinstance(u.get("id"), str)])
    for user in users:
        uid, name = user.get("id"), user.get("name")
        if not isinstance(uid, str) or not uid or not isinstance(name, str) or not name:
            report.skip("user", "no_id_or_name", str(uid or name))
            continue
        if uid in ids.users:
            report.skip("user", "duplicate", uid)
            continue
        profile = dict(user.get("profile") or {})
        email = profile.get("email") or user.get("email") or None
        new_id = choose_id(team, uid, lambda i: team if i in mine else held.get(i))
        if new_id in mine:  # this export's user, imported before (under its id or a remap)
            ids.users[uid] = new_id
            report.skip("user", "already_present", uid)
            continue
        if email and str(email).lower() in by_email:
            ids.users[uid] = by_email[str(email).lower()]
            report.skip("user", "merged_by_email", uid)
            continue
        held[new_id] = team
        ids.users[uid] = new_id
        if new_id != uid:
            report.warn("user", "id_remapped", f"{uid}->{new_id}")
        if not email and not user.get("is_bot") and uid != "USLACKBOT":
            report.warn("user", "missing_email", uid)
        real_name = _s(user.get("real_name") or profile.get("real_name"))
        profile.setdefault("real_name", real_name)
        profile["email"] = email or ""
        row = (
            new_id, team, _s(name), real_name, int(bool(user.get("deleted"))),
            int(bool(user.get("is_bot"))), int(bool(user.get("is_admin") or user.get("is_owner"))),
            _s(user.get("tz") or "UTC", 64), int(user.get("updated") or 0),
            orjson.dumps(profile).decode(), _s(email) or None,
        )  # fmt: skip
        await tx.conn.execute(
            f"INSERT INTO users ({USER_COLUMNS}, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row)
        )
        await tx.emit({"type": "team_join", "user": user_from_row(row[:10])})
        report.add("user")


def _text_json(value: JSON, ids: IdMap) -> str:
    creator = ids.any_user(value["creator"]) if value["creator"] else ""
    return orjson.dumps({**value, "creator": creator}).decode()


async def import_conversations(
    tx: WriteTx, convs: list[ConvSpec], ids: IdMap, report: Report
) -> list[tuple[ConvSpec, Target]]:
    team = tx.team_id
    rows = await tx.conn.fetchall(
        "SELECT id, name, kind, is_private, dm_key FROM conversations WHERE team_id = ?", [team]
    )
    existing = {str(r[0]): Target(str(r[0]), str(r[2]), bool(r[3]), False) for r in rows}
    by_name = {str(r[1]): str(r[0]) for r in rows if r[1] is not None and r[2] == "channel"}
    by_key = {str(r[4]): str(r[0]) for r in rows if r[4] is not None}
    held = await owners(tx.conn, "conversations", [c.id for c in convs])
    out: list[tuple[ConvSpec, Target]] = []
    for spec in convs:
        members = []
        for m in spec.members:
            if ids.user(m) is None:
                report.skip("membership", "unknown_user", f"{spec.id}:{m}")
            else:
                members.append(ids.users[m])
        members = list(dict.fromkeys(members))
        dm_key = ",".join(sorted(members)) if spec.kind in ("im", "mpim") else None
        own_id = choose_id(team, spec.id, lambda i: team if i in existing else held.get(i))
        found = (
            own_id if own_id in existing else by_key.get(dm_key) if dm_key else by_name.get(spec.name or "")
        )
        if spec.id in ids.convs:
            report.skip("conversation", "duplicate", spec.id)
            continue
        if found is not None:
            target = existing[found]
            ids.convs[spec.id] = found
            report.skip("conversation", "already_present", spec.id)
            await _add_members(tx, target, members, report)
        else:
            target = await _insert(tx, spec, members, dm_key, ids, held)
            report.add(spec.kind)
            report.add("membership", len(members))
        out.append((spec, target))
    return out


async def _insert(
    tx: WriteTx, spec: ConvSpec, members: list[str], dm_key: str | None, ids: IdMap, held: dict[str, str]
) -> Target:
    conv_id = choose_id(tx.team_id, spec.id, held.get)
    held[conv_id] = tx.team_id
    ids.convs[spec.id] = conv_id
    creator = ids.any_user(spec.creator) if spec.creator else (members[0] if members else None)
    row = (
        conv_id, tx.team_id, spec.name, spec.kind, int(spec.is_private), int(spec.is_archived),
        spec.created, creator, _text_json(spec.topic, ids), _text_json(spec.purpose, ids),
        len(members), dm_key,
    )  # fmt: skip
    await tx.conn.execute(
        f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        list(row),
    )
    joined = now_us()
    await tx.conn.executemany(
        "INSERT INTO members (channel_id, user_id, team_id, last_read, joined) VALUES (?, ?, ?, ?, ?)",
        [(conv_id, u, tx.team_id, 0, joined) for u in members],
    )
    await tx.emit({"type": "channel_created", "channel": conversation_from_row(row), "members": members})
    return Target(conv_id, spec.kind, spec.is_private, True, list(members))


async def _add_members(tx: WriteTx, target: Target, members: list[str], report: Report) -> None:
    rows = await tx.conn.fetchall("SELECT user_id FROM members WHERE channel_id = ?", [target.id])
    present = {str(r[0]) for r in rows}
    new = [m for m in members if m not in present]
    target.new_members.extend(new)
    for user_id in new:
        await tx.conn.execute(
            "INSERT INTO members (channel_id, user_id, team_id, last_read, joined) VALUES (?, ?, ?, 0, ?)",
            [target.id, user_id, tx.team_id, now_us()],
        )
        await tx.emit(
            {
                "type": "member_joined_channel",
                "channel": target.id,
                "user": user_id,
                "channel_type": target.channel_type,
            }
        )
    if new:
        await tx.conn.execute(
            "UPDATE conversations SET num_members = num_members + ? WHERE id = ?", [len(new), target.id]
        )
    report.add("membership", len(new))
