"""DMs and group DMs: opening one (found by its members, created on first use) and closing it.

A DM is one conversation per set of members (``dm_key``: the sorted member ids). Each member
has it open or closed (``members.is_open``): ``conversations.close`` closes it for the caller
(``im_close`` / ``mpim_close``, to that user), ``conversations.open`` opens it again
(``im_open`` / ``mpim_open``), and any message in it opens it for every member (the
``message`` event says so: see ``wire/events.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from origin.models import CONVERSATION_COLUMNS, JSON, conversation_from_row
from origin.service.access import Visible, visible, with_open_state
from origin.service.auth import Caller
from origin.service.conversations import check_users, insert_conversation
from origin.store.shards import Store, WriteTx
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id

MAX_OTHERS = 8


async def find_or_open(tx: WriteTx, caller: Caller, user_ids: Sequence[str]) -> tuple[JSON, bool]:
    """The DM (one other user) or group DM (several) of ``caller`` with ``user_ids``, created
    when it does not exist yet; returns (conversation, existed)."""
    others = sorted(set(user_ids) - {caller.user_id}) or [caller.user_id]
    if len(others) > MAX_OTHERS:
        raise invalid_arguments("users", f"a group DM has at most {MAX_OTHERS} other members")
    members = sorted({caller.user_id, *others})
    kind = "im" if len(others) == 1 else "mpim"
    key = ",".join(members)
    await check_users(tx.conn, caller.team_id, others)
    row = await tx.conn.fetchone(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ? AND dm_key = ?",
        [caller.team_id, key],
    )
    if row is not None:
        obj, existed = conversation_from_row(row), True
    else:
        name = "mpdm-" + "--".join(members) + "-1" if kind == "mpim" else None
        conv_id = new_id("D" if kind == "im" else "G")
        obj = await insert_conversation(tx, conv_id, name, kind, True, caller.user_id, members, key)
        existed = False
    if kind == "im":
        obj["user"] = others[0]
    return obj, existed


async def open_dm(store: Store, caller: Caller, user_ids: Sequence[str]) -> tuple[JSON, bool]:
    """``conversations.open`` with ``users``: returns (conversation, already_open). A DM the
    caller had closed is opened again (and is not ``already_open``)."""
    async with store.write(caller.team_id) as tx:
        obj, existed = await find_or_open(tx, caller, user_ids)
        if not existed:
            return obj, False
        conv = await with_open_state(tx.conn, await visible(tx.conn, caller, obj["id"]), caller.user_id)
        if conv.is_open:
            return obj, True
        await _set_open(tx, conv, caller.user_id, True)
    return obj, False


async def close(store: Store, caller: Caller, channel_id: str) -> bool:
    """``conversations.close``: close a DM or group DM for the caller; True if it already was."""
    async with store.write(caller.team_id) as tx:
        conv = await with_open_state(tx.conn, await visible(tx.conn, caller, channel_id), caller.user_id)
        if conv.kind not in ("im", "mpim"):
            raise SlackError("method_not_supported_for_channel_type", "only DMs and group DMs close")
        if not conv.is_member:
            raise SlackError("channel_not_found")
        if not conv.is_open:
            return True
        await _set_open(tx, conv, caller.user_id, False)
    return False


async def _set_open(tx: WriteTx, conv: Visible, user_id: str, is_open: bool) -> None:
    await tx.conn.execute(
        "UPDATE members SET is_open = ? WHERE channel_id = ? AND user_id = ?",
        [int(is_open), conv.id, user_id],
    )
    kind = f"{conv.kind}_{'open' if is_open else 'close'}"
    await tx.emit({"type": kind, "user": user_id, "channel": conv.id})


async def reopen_for_all(tx: WriteTx, conv: Visible) -> None:
    """A message in a DM or group DM opens it for every member who had closed it (no event of
    its own: the ``message`` event implies it)."""
    if conv.kind in ("im", "mpim"):
        await tx.conn.execute(
            "UPDATE members SET is_open = 1 WHERE channel_id = ? AND is_open = 0", [conv.id]
        )
