"""Conversations: public and private channels, DMs and group DMs, and their members.

Opening and closing DMs is :mod:`origin.service.dms`; listing conversations
:mod:`origin.service.listing`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from origin.models import CONVERSATION_COLUMNS, JSON, conversation_from_row, text_object
from origin.service.access import Visible, require_member, require_open, visible, with_open_state
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store, WriteTx
from wire import cursors
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id, now_us, ts_str
from wire.visibility import channel_type

_CHANNEL_NAME = re.compile(r"^[\w-]{1,80}$")


def validate_name(name: str) -> str:
    if not _CHANNEL_NAME.match(name) or name != name.lower() or name.startswith(("-", "_")):
        raise SlackError("invalid_name", "channel names are 1-80 lowercase letters, digits, - and _")
    return name


async def latest_ts(conn: Conn, channel_id: str) -> int:
    """The ts of the conversation's newest message, thread replies included (0: none)."""
    row = await conn.fetchone("SELECT MAX(ts) FROM messages WHERE channel_id = ?", [channel_id])
    return int(row[0]) if row and row[0] is not None else 0


async def _add_members(tx: WriteTx, conv_id: str, user_ids: Sequence[str], last_read: int = 0) -> None:
    """New memberships with their read cursor at ``last_read``: a channel's joiner starts at its
    newest message (Slack's rule: what was said before joining is not unread); a new DM's
    members at 0."""
    now = now_us()
    await tx.conn.executemany(
        "INSERT INTO members (channel_id, user_id, team_id, last_read, joined) VALUES (?, ?, ?, ?, ?)",
        [(conv_id, u, tx.team_id, last_read, now) for u in user_ids],
    )
    await tx.conn.execute(
        "UPDATE conversations SET num_members = num_members + ? WHERE id = ?",
        [len(user_ids), conv_id],
    )


async def check_users(conn: Conn, team_id: str, user_ids: Sequence[str]) -> None:
    """``user_not_found`` (naming them) unless every id is a live user of the workspace."""
    if not user_ids:
        return
    marks = ",".join("?" * len(user_ids))
    rows = await conn.fetchall(
        f"SELECT id, deleted FROM users WHERE team_id = ? AND id IN ({marks})",
        [team_id, *user_ids],
    )
    live = {r[0] for r in rows if not r[1]}
    missing = [u for u in user_ids if u not in live]
    if missing:
        raise SlackError("user_not_found", ",".join(missing))


async def insert_conversation(
    tx: WriteTx,
    conv_id: str,
    name: str | None,
    kind: str,
    is_private: bool,
    creator: str,
    members: Sequence[str],
    dm_key: str | None = None,
) -> JSON:
    now = now_us() // 1_000_000
    empty = text_object("", None, 0)
    row = (conv_id, tx.team_id, name, kind, int(is_private), 0, now, creator, empty, empty, 0, dm_key)
    await tx.conn.execute(
        f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        list(row),
    )
    await _add_members(tx, conv_id, members)
    obj = conversation_from_row((*row[:10], len(members), dm_key))
    await tx.emit({"type": "channel_created", "channel": obj, "members": list(members)})
    return obj


async def create(store: Store, caller: Caller, name: str, is_private: bool) -> JSON:
    validate_name(name)
    async with store.write(caller.team_id) as tx:
        taken = await tx.conn.fetchone(
            "SELECT 1 FROM conversations WHERE team_id = ? AND name = ?", [caller.team_id, name]
        )
        if taken:
            raise SlackError("name_taken")
        obj = await insert_conversation(
            tx, new_id("C"), name, "channel", is_private, caller.user_id, [caller.user_id]
        )
    obj["is_member"] = True
    return obj


async def info(store: Store, caller: Caller, channel_id: str) -> JSON:
    async with store.read(caller.team_id) as conn:
        conv = await with_open_state(conn, await visible(conn, caller, channel_id), caller.user_id)
        obj = conv.obj()
        if conv.kind == "im":
            obj["user"] = await dm_partner(conn, conv.id, caller.user_id)
    return obj


async def dm_partner(conn: Conn, channel_id: str, user_id: str) -> str:
    """The other member of a DM (Slack names a DM by its partner's id); the user, for a self-DM."""
    row = await conn.fetchone(
        "SELECT user_id FROM members WHERE channel_id = ? AND user_id <> ? LIMIT 1",
        [channel_id, user_id],
    )
    return str(row[0]) if row else user_id


async def members(
    store: Store, caller: Caller, channel_id: str, limit: int, after: str | None
) -> tuple[list[str], str | None]:
    async with store.read(caller.team_id) as conn:
        await visible(conn, caller, channel_id)
        rows = await conn.fetchall(
            "SELECT user_id FROM members WHERE channel_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
            [channel_id, after or "", limit + 1],
        )
    ids = [str(r[0]) for r in rows[:limit]]
    more = len(rows) > limit
    return ids, cursors.encode("member", ids[-1]) if more and ids else None


async def _membership_event(
    tx: WriteTx, conv: Visible, user_id: str, joined: bool, inviter: str | None = None, last_read: int = 0
) -> None:
    event: JSON = {
        "type": "member_joined_channel" if joined else "member_left_channel",
        "channel": conv.id,
        "user": user_id,
        "channel_type": channel_type(conv.kind, conv.is_private),
    }
    if joined:
        event["last_read"] = ts_str(last_read)
    if inviter:
        event["inviter"] = inviter
    await tx.emit(event)


def _channels_only(conv: Visible) -> None:
    if conv.kind != "channel":
        raise SlackError("method_not_supported_for_channel_type")


async def join(store: Store, caller: Caller, channel_id: str) -> tuple[JSON, bool]:
    """Join a public channel; returns (channel, already_in_channel)."""
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        require_open(conv)
        if conv.is_member:
            return conv.obj(), True
        last_read = await latest_ts(tx.conn, conv.id)
        await _add_members(tx, conv.id, [caller.user_id], last_read)
        await _membership_event(tx, conv, caller.user_id, True, last_read=last_read)
        conv = await visible(tx.conn, caller, channel_id)
    return conv.obj(), False


async def leave(store: Store, caller: Caller, channel_id: str) -> None:
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        require_member(conv)
        if conv.name == "general":
            raise SlackError("cant_leave_general")
        await _remove_member(tx, conv, caller.user_id)


async def _remove_member(tx: WriteTx, conv: Visible, user_id: str) -> None:
    await tx.conn.execute("DELETE FROM members WHERE channel_id = ? AND user_id = ?", [conv.id, user_id])
    await tx.conn.execute("UPDATE conversations SET num_members = num_members - 1 WHERE id = ?", [conv.id])
    await _membership_event(tx, conv, user_id, False)


async def invite(store: Store, caller: Caller, channel_id: str, user_ids: Sequence[str]) -> JSON:
    if not user_ids:
        raise invalid_arguments("users", "at least one user id is required")
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        require_member(conv)
        require_open(conv)
        wanted = list(dict.fromkeys(user_ids))
        if caller.user_id in wanted:
            raise SlackError("cant_invite_self")
        await check_users(tx.conn, caller.team_id, wanted)
        marks = ",".join("?" * len(wanted))
        present = {
            str(r[0])
            for r in await tx.conn.fetchall(
                f"SELECT user_id FROM members WHERE channel_id = ? AND user_id IN ({marks})",
                [conv.id, *wanted],
            )
        }
        new = [u for u in wanted if u not in present]
        if not new:
            raise SlackError("already_in_channel")
        last_read = await latest_ts(tx.conn, conv.id)
        for user_id in new:
            await _add_members(tx, conv.id, [user_id], last_read)
            await _membership_event(tx, conv, user_id, True, inviter=caller.user_id, last_read=last_read)
        conv = await visible(tx.conn, caller, channel_id)
    return conv.obj()


async def kick(store: Store, caller: Caller, channel_id: str, user_id: str) -> None:
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        require_member(conv)
        if user_id == caller.user_id:
            raise SlackError("cant_kick_self")
        await check_users(tx.conn, caller.team_id, [user_id])
        row = await tx.conn.fetchone(
            "SELECT 1 FROM members WHERE channel_id = ? AND user_id = ?", [conv.id, user_id]
        )
        if row is None:
            raise SlackError("not_in_channel")
        await _remove_member(tx, conv, user_id)


async def rename(store: Store, caller: Caller, channel_id: str, name: str) -> JSON:
    validate_name(name)
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        require_member(conv)
        require_open(conv)
        taken = await tx.conn.fetchone(
            "SELECT id FROM conversations WHERE team_id = ? AND name = ?",
            [caller.team_id, name],
        )
        if taken and taken[0] != conv.id:
            raise SlackError("name_taken")
        await tx.conn.execute("UPDATE conversations SET name = ? WHERE id = ?", [name, conv.id])
        created = int(conv.row[6])
        await tx.emit(
            {"type": "channel_rename", "channel": {"id": conv.id, "name": name, "created": created}}
        )
        conv = await visible(tx.conn, caller, channel_id)
    return conv.obj()


async def set_text(store: Store, caller: Caller, channel_id: str, field: str, value: str) -> JSON:
    """``conversations.setTopic`` / ``setPurpose`` (``field`` is topic or purpose)."""
    if len(value) > 250:
        raise SlackError("too_long", f"{field} is at most 250 characters")
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        if conv.kind == "im":
            raise SlackError("method_not_supported_for_channel_type")
        require_member(conv)
        require_open(conv)
        stored = text_object(value, caller.user_id, now_us() // 1_000_000)
        column = "topic" if field == "topic" else "purpose"
        await tx.conn.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?", [stored, conv.id])
        conv = await visible(tx.conn, caller, channel_id)
        obj = conv.obj()
        await tx.emit({"type": f"channel_{column}", "channel": conv.id, column: obj[column]})
    return obj


async def set_archived(store: Store, caller: Caller, channel_id: str, archived: bool) -> None:
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        _channels_only(conv)
        if conv.name == "general" and archived:
            raise SlackError("cant_archive_general")
        require_member(conv)  # Slack's rule, both ways: only a member archives or unarchives
        if conv.is_archived == archived:
            raise SlackError("already_archived" if archived else "not_archived")
        await tx.conn.execute(
            "UPDATE conversations SET is_archived = ? WHERE id = ?", [int(archived), conv.id]
        )
        await tx.emit(
            {
                "type": "channel_archive" if archived else "channel_unarchive",
                "channel": conv.id,
                "user": caller.user_id,
            }
        )


async def admin_add_member(store: Store, team_id: str, channel_id: str, user_id: str) -> JSON:
    """An operator adds ``user_id`` to any channel of the workspace (private ones too)."""
    caller = Caller(team_id, user_id, "")
    async with store.write(team_id) as tx:
        row = await tx.conn.fetchone(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ? AND team_id = ?",
            [channel_id, team_id],
        )
        if row is None:
            raise SlackError("channel_not_found")
        conv = Visible(row, False, 0)
        _channels_only(conv)
        member = await tx.conn.fetchone(
            "SELECT 1 FROM members WHERE channel_id = ? AND user_id = ?", [channel_id, user_id]
        )
        if member is None:
            last_read = await latest_ts(tx.conn, channel_id)
            await _add_members(tx, channel_id, [user_id], last_read)
            await _membership_event(tx, conv, user_id, True, last_read=last_read)
        conv = await visible(tx.conn, caller, channel_id)
    return conv.obj()
