"""Who may see a conversation: the one rule every read and write goes through.

Public channels are visible to everyone in their workspace; private channels, DMs and
group DMs only to their members (:mod:`wire.visibility` decides, for origin and edge alike).
Anything else is ``channel_not_found``, never the data, so a non-member cannot even learn
that a private channel exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from origin.models import CONVERSATION_COLUMNS, MESSAGE_FIELDS, conversation_from_row
from origin.service.auth import Caller
from origin.store.db import Conn, Row
from wire.errors import SlackError
from wire.ids import ts_str
from wire.visibility import is_public_kind

#: :func:`wire.visibility.is_public_kind` as SQL over a ``conversations`` row aliased ``c``
#: (for queries that select the visible set at once, like search's scope).
PUBLIC_SQL = "(c.kind = 'channel' AND c.is_private = 0)"


@dataclass
class Visible:
    row: tuple[Any, ...]
    is_member: bool
    last_read: int
    is_open: bool = True  # a DM or group DM this member has not closed (see with_open_state)

    @property
    def id(self) -> str:
        return str(self.row[0])

    @property
    def kind(self) -> str:
        return str(self.row[3])

    @property
    def is_private(self) -> bool:
        return bool(self.row[4])

    @property
    def is_archived(self) -> bool:
        return bool(self.row[5])

    @property
    def name(self) -> str | None:
        return None if self.row[2] is None else str(self.row[2])

    def obj(self) -> dict[str, Any]:
        o = conversation_from_row(self.row)
        if self.kind == "channel" or self.kind == "mpim":
            o["is_member"] = self.is_member
        if self.is_member:
            o["last_read"] = ts_str(self.last_read)
            if self.kind in ("im", "mpim"):
                o["is_open"] = self.is_open
        return o


async def visible(conn: Conn, caller: Caller, channel_id: str, lock: str = "") -> Visible:
    """The conversation if ``caller`` may see it, else ``channel_not_found``."""
    row = await conn.fetchone(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ? AND team_id = ?{lock}",
        [channel_id, caller.team_id],
    )
    if row is None:
        raise SlackError("channel_not_found")
    member = await conn.fetchone(
        "SELECT last_read FROM members WHERE channel_id = ? AND user_id = ?",
        [channel_id, caller.user_id],
    )
    if member is None and not is_public_kind(str(row[3]), bool(row[4])):
        raise SlackError("channel_not_found")
    return Visible(row, member is not None, int(member[0]) if member else 0)


async def with_open_state(conn: Conn, conv: Visible, user_id: str) -> Visible:
    """``conv`` with whether ``user_id`` has it open (DMs and group DMs: ``members.is_open``)."""
    if conv.is_member and conv.kind in ("im", "mpim"):
        row = await conn.fetchone(
            "SELECT is_open FROM members WHERE channel_id = ? AND user_id = ?", [conv.id, user_id]
        )
        conv.is_open = bool(row[0]) if row else True
    return conv


def require_member(conv: Visible) -> None:
    if not conv.is_member:
        raise SlackError("not_in_channel")


def require_open(conv: Visible) -> None:
    if conv.is_archived:
        raise SlackError("is_archived")


async def fetch_message(conn: Conn, channel_id: str, ts: int, lock: str = "") -> Row:
    """The message's row (``MESSAGE_FIELDS``), else ``message_not_found``."""
    row = await conn.fetchone(
        f"SELECT {MESSAGE_FIELDS} FROM messages WHERE channel_id = ? AND ts = ?{lock}",
        [channel_id, ts],
    )
    if row is None:
        raise SlackError("message_not_found")
    return row
