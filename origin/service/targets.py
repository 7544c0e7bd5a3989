"""Where a post goes: Slack's ``channel`` argument of chat.postMessage, chat.meMessage and
chat.postEphemeral.

It may be a conversation id (``C..``, ``G..``, ``D..``), a channel's name with or without ``#``
(a channel of the caller's workspace), or a user id (``U..``/``W..``): the caller's DM with that
user, opened in the posting transaction when it does not exist yet (its ``channel_created``
is logged just before the message). Whatever the form, the one visibility rule decides, and
anything the caller may not see is ``channel_not_found``.
"""

from __future__ import annotations

import re

from origin.service import dms
from origin.service.access import Visible, visible
from origin.service.auth import Caller
from origin.store.shards import WriteTx
from wire.errors import SlackError

MAX_REF_CHARS = 100
_CONVERSATION_ID = re.compile(r"[CDG][A-Z0-9]{1,31}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,31}")


def check_ref(ref: str) -> str:
    """A ``channel`` argument that could name something; else ``channel_not_found``."""
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF_CHARS:
        raise SlackError("channel_not_found")
    return ref


def is_conversation_id(ref: str) -> bool:
    return _CONVERSATION_ID.fullmatch(ref) is not None


def is_user_ref(ref: str) -> bool:
    return _USER_ID.fullmatch(ref) is not None


async def resolve(tx: WriteTx, caller: Caller, ref: str) -> Visible:
    """The conversation ``ref`` names, as the caller sees it (see the module docstring)."""
    ref = check_ref(ref)
    if is_user_ref(ref):
        user = await tx.conn.fetchone(
            "SELECT deleted FROM users WHERE team_id = ? AND id = ?", [caller.team_id, ref]
        )
        if user is None or user[0]:
            raise SlackError("channel_not_found", "no such user to write to")
        obj, _ = await dms.find_or_open(tx, caller, [ref])
        return await visible(tx.conn, caller, str(obj["id"]))
    if is_conversation_id(ref):
        return await visible(tx.conn, caller, ref)
    name = ref.removeprefix("#").lower()
    row = await tx.conn.fetchone(
        "SELECT id FROM conversations WHERE team_id = ? AND name = ? AND kind = 'channel'",
        [caller.team_id, name],
    )
    if row is None:
        raise SlackError("channel_not_found")
    return await visible(tx.conn, caller, str(row[0]))
