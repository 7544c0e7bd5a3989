"""Ephemeral messages (``chat.postEphemeral``): shown to one member of a conversation, once.

Never stored as a message: not in history, replies or search, and never edited or deleted.
The message travels in the change log as an ``ephemeral_message`` event naming its one
recipient (``user``), so it reaches that user's connections on every edge, in order with the
conversation's other events; edges deliver it to that user's connections only (see
``wire/events.py``). Like every event it stays in the log's bounded history (and the outbox)
until trimmed, which is what lets a reconnecting client still get it on resume.
"""

from __future__ import annotations

from origin.models import JSON
from origin.service import targets
from origin.service.access import fetch_message, require_member, require_open
from origin.service.auth import Caller
from origin.service.content import Content
from origin.service.message_writes import check_text, event_base
from origin.store.shards import Store
from wire.errors import SlackError
from wire.ids import now_us, ts_str


async def post_ephemeral(
    store: Store,
    caller: Caller,
    channel: str,
    user_id: str,
    text: str,
    content: Content | None = None,
    thread_ts: int | None = None,
) -> tuple[str, str]:
    """Send ``user_id`` a message in ``channel`` (an id, a name or a user id, as chat.postMessage
    takes it); returns (channel id, message_ts). The caller and the recipient must both be
    members: ``not_in_channel`` / ``user_not_in_channel`` otherwise."""
    content = content or Content()
    check_text(text, content)
    async with store.write(caller.team_id) as tx:
        conv = await targets.resolve(tx, caller, channel)
        require_member(conv)
        require_open(conv)
        member = await tx.conn.fetchone(
            "SELECT 1 FROM members m JOIN users u ON u.id = m.user_id "
            "WHERE m.channel_id = ? AND m.user_id = ? AND u.deleted = 0",
            [conv.id, user_id],
        )
        if member is None:
            raise SlackError("user_not_in_channel")
        ts = now_us()
        message: JSON = {
            "type": "message",
            "user": caller.user_id,
            "text": text,
            "ts": ts_str(ts),
            "team": caller.team_id,
            "is_ephemeral": True,
        }
        if thread_ts is not None:
            parent = await fetch_message(tx.conn, conv.id, thread_ts)
            message["thread_ts"] = ts_str(int(parent[6]) if parent[6] is not None else thread_ts)
        for field, value in (("blocks", content.blocks), ("attachments", content.attachments)):
            if value:
                message[field] = value
        event = event_base(conv, "ephemeral_message")
        event.update({"user": user_id, "message": message})
        await tx.emit(event)
    return conv.id, message["ts"]
