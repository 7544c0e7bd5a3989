"""A workspace's custom emoji (``emoji.list``), which an admin adds (``admin.emoji.add``).

A workspace starts with none: ``emoji.list`` answers an empty map until an admin adds one. A
value is the image's URL, or ``alias:<name>`` for another name of an emoji already there
(``admin.emoji.addAlias``), as Slack's are. Adding one logs ``emoji_changed`` (subtype
``add``), which every connection of the workspace hears.
"""

from __future__ import annotations

import re

from origin.service.auth import Caller
from origin.store.shards import Store
from wire.errors import SlackError
from wire.ids import now_us

_NAME = re.compile(r"[a-z0-9_+'-]{1,100}")
MAX_URL_CHARS = 1000


async def list_emoji(store: Store, caller: Caller) -> dict[str, str]:
    async with store.read(caller.team_id) as conn:
        rows = await conn.fetchall(
            "SELECT name, value FROM emoji WHERE team_id = ? ORDER BY name", [caller.team_id]
        )
    return {str(name): str(value) for name, value in rows}


def check_name(name: str) -> str:
    name = name.strip().strip(":")
    if not name:
        raise SlackError("error_missing_name")
    if name != name.lower():
        raise SlackError("error_lower_case_names_only")
    if not _NAME.fullmatch(name):
        raise SlackError("error_bad_name_i18n", "emoji names are a-z 0-9 _ + ' - (at most 100)")
    return name


async def add(
    store: Store, caller: Caller, name: str, url: str | None = None, alias_for: str | None = None
) -> None:
    """Add ``name`` as an image (``url``) or as an alias of the emoji ``alias_for``."""
    if not caller.is_admin:
        raise SlackError("not_an_admin")
    name = check_name(name)
    target = None if alias_for is None else check_name(alias_for)
    if target is None and (
        url is None or not url.startswith(("https://", "http://")) or len(url) > MAX_URL_CHARS
    ):
        raise SlackError("error_bad_format", "url must be an http(s) URL of an image")
    async with store.write(caller.team_id) as tx:
        taken = await tx.conn.fetchone(
            "SELECT 1 FROM emoji WHERE team_id = ? AND name = ?", [caller.team_id, name]
        )
        if taken:
            raise SlackError("error_name_taken")
        if target is not None:
            found = await tx.conn.fetchone(
                "SELECT 1 FROM emoji WHERE team_id = ? AND name = ?", [caller.team_id, target]
            )
            if found is None:
                raise SlackError("error_invalid_alias")
        value = f"alias:{target}" if target is not None else str(url)
        await tx.conn.execute(
            "INSERT INTO emoji (team_id, name, value, user_id, created) VALUES (?, ?, ?, ?, ?)",
            [caller.team_id, name, value, caller.user_id, now_us() // 1_000_000],
        )
        await tx.emit({"type": "emoji_changed", "subtype": "add", "name": name, "value": value})
