"""User groups (Slack's "subteams": ``@handle`` groups of users).

A workspace has none until an admin creates one (``usergroups.create``); ``usergroups.list``
answers what there is, in Slack's shape. Creating one logs ``subteam_created``, which every
connection of the workspace hears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from origin.models import JSON
from origin.service.auth import Caller
from origin.service.conversations import check_users
from origin.store.db import Conn
from origin.store.shards import Store
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id, now_us

COLUMNS = "id, team_id, handle, name, description, created_by, created, updated, disabled"
_HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")


def usergroup_object(row: tuple[Any, ...], users: list[str] | None, count: int | None) -> JSON:
    group_id, team_id, handle, name, description, created_by, created, updated, disabled = row
    obj: JSON = {
        "id": group_id,
        "team_id": team_id,
        "is_usergroup": True,
        "is_subteam": True,
        "name": name,
        "description": description,
        "handle": handle,
        "is_external": False,
        "date_create": int(created),
        "date_update": int(updated),
        "date_delete": int(updated) if disabled else 0,
        "auto_type": None,
        "created_by": created_by,
        "updated_by": created_by,
        "deleted_by": None,
        "prefs": {"channels": [], "groups": []},
    }
    if users is not None:
        obj["users"] = users
    if count is not None:
        obj["user_count"] = count
    return obj


async def _members(conn: Conn, group_id: str) -> list[str]:
    rows = await conn.fetchall(
        "SELECT user_id FROM usergroup_members WHERE usergroup_id = ? ORDER BY user_id", [group_id]
    )
    return [str(r[0]) for r in rows]


async def list_usergroups(
    store: Store, caller: Caller, include_users: bool, include_disabled: bool, include_count: bool
) -> list[JSON]:
    async with store.read(caller.team_id) as conn:
        enabled = "" if include_disabled else " AND disabled = 0"
        rows = await conn.fetchall(
            f"SELECT {COLUMNS} FROM usergroups WHERE team_id = ?{enabled} ORDER BY name, id", [caller.team_id]
        )
        out = []
        for row in rows:
            members = await _members(conn, str(row[0])) if include_users or include_count else []
            out.append(
                usergroup_object(
                    row, members if include_users else None, len(members) if include_count else None
                )
            )
    return out


async def create(
    store: Store,
    caller: Caller,
    name: str,
    handle: str | None = None,
    description: str = "",
    users: Sequence[str] = (),
) -> JSON:
    """``usergroups.create`` (admins only): ``name_already_exists`` / ``handle_already_exists``."""
    if not caller.is_admin:
        raise SlackError("permission_denied", "only admins create user groups")
    name = name.strip()
    if not name or len(name) > 255:
        raise invalid_arguments("name", "must be 1 to 255 characters")
    handle = (handle or re.sub(r"[^a-z0-9._-]+", "-", name.lower())).strip("-")
    if not _HANDLE.fullmatch(handle):
        raise SlackError("invalid_handle", "handles are 1-80 of a-z 0-9 . _ -")
    if len(description) > 1000:
        raise invalid_arguments("description", "at most 1000 characters")
    members = list(dict.fromkeys(users))
    now = now_us() // 1_000_000
    row = (new_id("S"), caller.team_id, handle, name, description, caller.user_id, now, now, 0)
    async with store.write(caller.team_id) as tx:
        for column, value, error in (
            ("name", name, "name_already_exists"),
            ("handle", handle, "handle_already_exists"),
        ):
            taken = await tx.conn.fetchone(
                f"SELECT 1 FROM usergroups WHERE team_id = ? AND {column} = ?", [caller.team_id, value]
            )
            if taken:
                raise SlackError(error)
        await check_users(tx.conn, caller.team_id, members)
        await tx.conn.execute(
            f"INSERT INTO usergroups ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row)
        )
        await tx.conn.executemany(
            "INSERT INTO usergroup_members (usergroup_id, user_id) VALUES (?, ?)",
            [(row[0], u) for u in members],
        )
        group = usergroup_object(row, members, len(members))
        await tx.emit({"type": "subteam_created", "subteam": group})
    return group
