"""Bots: a bot is a user marked ``is_bot``; its bot id is its user id with ``B`` for ``U``
(the id ``auth.test`` answers for a bot token), and ``bots.info`` describes it."""

from __future__ import annotations

from origin.models import JSON, USER_COLUMNS, user_from_row
from origin.service.auth import Caller
from origin.store.shards import Store
from wire.errors import SlackError


def bot_id_of(user_id: str) -> str:
    return "B" + user_id[1:]


def app_id_of(user_id: str) -> str:
    return "A" + user_id[1:]


async def bot_info(store: Store, caller: Caller, bot_id: str | None) -> JSON:
    """``bots.info``: the bot ``bot_id`` of the caller's workspace (the caller's own bot when
    none is named), else ``bot_not_found``."""
    user_id = caller.user_id if bot_id is None else "U" + bot_id[1:]
    if bot_id is not None and (not bot_id.startswith("B") or len(bot_id) < 2):
        raise SlackError("bot_not_found")
    async with store.read(caller.team_id) as conn:
        row = await conn.fetchone(
            f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id = ?", [caller.team_id, user_id]
        )
    if row is None or not row[5]:
        raise SlackError("bot_not_found")
    user = user_from_row(row)
    profile = user["profile"]
    return {
        "id": bot_id_of(user_id),
        "deleted": user["deleted"],
        "name": user["name"],
        "updated": user["updated"],
        "app_id": app_id_of(user_id),
        "user_id": user_id,
        "icons": {
            "image_36": profile.get("image_32", ""),
            "image_48": profile.get("image_48", ""),
            "image_72": profile.get("image_72", ""),
        },
    }
