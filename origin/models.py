"""Rows to Slack's JSON objects (users, conversations, messages).

The store returns raw rows; this module owns the Slack field names so every API method
and every event renders the same object the same way.
"""

from __future__ import annotations

from typing import Any

import orjson

from wire.ids import ts_str
from wire.visibility import is_public_kind

JSON = dict[str, Any]

USER_COLUMNS = "id, team_id, name, real_name, deleted, is_bot, is_admin, tz, updated, profile"
CONVERSATION_COLUMNS = (
    "id, team_id, name, kind, is_private, is_archived, created, creator, topic, purpose, num_members, dm_key"
)
MESSAGE_COLUMNS = (
    "channel_id, ts, team_id, user_id, text, subtype, thread_ts, reply_count, reply_users, "
    "latest_reply, edited_ts, edited_user"
)
#: What a message is read with: ``MESSAGE_COLUMNS``, then what apps post besides text (schema
#: version 5): the thread parent's author, and blocks, attachments and metadata as JSON.
MESSAGE_FIELDS = f"{MESSAGE_COLUMNS}, parent_user_id, blocks, attachments, metadata"

PROFILE_FIELDS = (
    "display_name",
    "real_name",
    "title",
    "email",
    "phone",
    "status_text",
    "status_emoji",
    "first_name",
    "last_name",
)
IMAGE_SIZES = (24, 32, 48, 72, 192, 512)


def user_from_row(row: tuple[Any, ...]) -> JSON:
    uid, team_id, name, real_name, deleted, is_bot, is_admin, tz, updated, profile = row
    return {
        "id": uid,
        "team_id": team_id,
        "name": name,
        "deleted": bool(deleted),
        "real_name": real_name,
        "tz": tz,
        "is_admin": bool(is_admin),
        "is_bot": bool(is_bot),
        "is_app_user": False,
        "updated": int(updated),
        "profile": orjson.loads(profile),
    }


def default_profile(name: str, real_name: str, email: str | None, **extra: str) -> JSON:
    first, _, last = real_name.partition(" ")
    profile: JSON = {
        "display_name": extra.get("display_name", ""),
        "real_name": real_name,
        "title": extra.get("title", ""),
        "email": email or "",
        "phone": "",
        "status_text": extra.get("status_text", ""),
        "status_emoji": extra.get("status_emoji", ""),
        "first_name": first,
        "last_name": last,
    }
    for size in IMAGE_SIZES:
        profile[f"image_{size}"] = f"https://avatars.flannel.invalid/{name}_{size}.png"
    return profile


def conversation_from_row(row: tuple[Any, ...]) -> JSON:
    (
        cid,
        team_id,
        name,
        kind,
        is_private,
        is_archived,
        created,
        creator,
        topic,
        purpose,
        num_members,
        dm_key,
    ) = row
    obj: JSON = {
        "id": cid,
        "context_team_id": team_id,
        "created": int(created),
        "creator": creator,
        "is_archived": bool(is_archived),
        "is_channel": kind == "channel",
        "is_group": False,
        "is_im": kind == "im",
        "is_mpim": kind == "mpim",
        # The rendered flag and the stored one agree under wire.visibility (DMs are private).
        "is_private": not is_public_kind(kind, bool(is_private)),
        "is_general": name == "general",
        "num_members": int(num_members),
    }
    if kind == "channel" or kind == "mpim":
        obj["name"] = name
        obj["name_normalized"] = name
        obj["topic"] = orjson.loads(topic)
        obj["purpose"] = orjson.loads(purpose)
    if kind in ("im", "mpim"):
        obj["members_key"] = dm_key
    return obj


def message_from_row(row: tuple[Any, ...], reactions: list[JSON] | None = None) -> JSON:
    """A message read with ``MESSAGE_FIELDS`` as Slack's object."""
    (
        _channel_id,
        ts,
        team_id,
        user_id,
        text,
        subtype,
        thread_ts,
        reply_count,
        reply_users,
        latest_reply,
        edited_ts,
        edited_user,
        parent_user_id,
        blocks,
        attachments,
        metadata,
    ) = row[:16]
    msg: JSON = {
        "type": "message",
        "user": user_id,
        "text": text,
        "ts": ts_str(ts),
        "team": team_id,
    }
    if subtype:
        msg["subtype"] = subtype
    if thread_ts is not None:
        msg["thread_ts"] = ts_str(thread_ts)
        if thread_ts == ts:
            users = orjson.loads(reply_users) if reply_users else []
            msg["reply_count"] = int(reply_count)
            msg["reply_users"] = users
            msg["reply_users_count"] = len(users)
            if latest_reply is not None:
                msg["latest_reply"] = ts_str(latest_reply)
        elif parent_user_id is not None:
            msg["parent_user_id"] = parent_user_id
    if blocks:
        msg["blocks"] = orjson.loads(blocks)
    if attachments:
        msg["attachments"] = orjson.loads(attachments)
    if metadata:
        msg["metadata"] = orjson.loads(metadata)
    if edited_ts is not None:
        msg["edited"] = {"user": edited_user, "ts": ts_str(edited_ts)}
    if reactions:
        msg["reactions"] = reactions
    return msg


def add_extras(message: JSON, payload: str | None, *, files_list: bool = False) -> JSON:
    """Merge what an import kept beyond our columns (``message_extras``: ``files``, ``bot_id``,
    ``username``, ``icons``...) into ``message``; a field the columns render wins.

    ``files_list``: the Web API's form, where a message's files are always ``files: [...]``
    (older exports carry one ``file``, which the export keeps as it came)."""
    if payload:
        for key, value in orjson.loads(payload).items():
            message.setdefault(key, value)
    if files_list and isinstance(message.get("file"), dict) and "files" not in message:
        message["files"] = [message["file"]]
    return message


def permalink(base_url: str, channel_id: str, ts: int, thread_ts: int | None = None) -> str:
    """A message's permalink: ``<base>/archives/<channel>/p<ts digits>``, Slack's form, on the
    origin's base URL; a reply's names its thread (``?thread_ts=...&cid=...``) as Slack's do."""
    link = f"{base_url.rstrip('/')}/archives/{channel_id}/p{ts_str(ts).replace('.', '')}"
    if thread_ts is not None and thread_ts != ts:
        link += f"?thread_ts={ts_str(thread_ts)}&cid={channel_id}"
    return link


def text_object(value: str, creator: str | None, last_set: int) -> str:
    """A channel's topic or purpose, stored as JSON."""
    return orjson.dumps({"value": value, "creator": creator or "", "last_set": last_set}).decode()
