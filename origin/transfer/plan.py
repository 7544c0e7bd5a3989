"""The pure half of an import: which ids the export's users and conversations get, and a
Slack message as the rows it becomes.

Ids are kept where they are free or already this workspace's (a second import finds them and
merges), and remapped where another workspace holds them. A remapped id is *derived* from
(workspace, original id), so importing the same export again remaps it the same way: no id map
has to be stored for the import to stay idempotent. Mentions (``<@U..>``, ``<#C..>``) and the
user ids inside a message (reactions, edits, inviters, file owners) follow the remap.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from origin.service.content import Content
from wire.ids import parse_ts

JSON = dict[str, Any]
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_MENTION = re.compile(r"<([@#])([A-Z][A-Z0-9]{1,31})((?:\|[^>]*)?)>")
#: What has a column (or is recomputed): everything else goes to message_extras.
COLUMNS = frozenset(
    {
        "type", "user", "text", "ts", "subtype", "thread_ts", "reply_count", "replies",
        "reply_users", "reply_users_count", "latest_reply", "edited", "reactions",
        "attachments", "blocks", "metadata", "team", "parent_user_id",
    }
)  # fmt: skip


def derived_id(team_id: str, original: str, attempt: int = 0) -> str:
    """A stable new id for ``original`` in ``team_id``, of the same kind (first letter)."""
    digest = hashlib.sha256(f"{team_id}:{original}:{attempt}".encode()).digest()
    return original[:1] + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def choose_id(team_id: str, original: str, owner: Callable[[str], str | None]) -> str:
    """``original`` unless another workspace owns it; else the first free derived id.
    ``owner(id)`` says which workspace holds an id (None: free)."""
    candidate, attempt = original, 0
    while (held := owner(candidate)) is not None and held != team_id:
        candidate = derived_id(team_id, original, attempt)
        attempt += 1
    return candidate


@dataclass
class IdMap:
    users: dict[str, str] = field(default_factory=dict)
    convs: dict[str, str] = field(default_factory=dict)

    def user(self, uid: Any) -> str | None:
        return self.users.get(uid) if isinstance(uid, str) else None

    def any_user(self, uid: str) -> str:
        """A user id as remapped, or as it was when the export does not list it."""
        return self.users.get(uid, uid)

    def text(self, text: str) -> str:
        def swap(m: re.Match[str]) -> str:
            table = self.users if m.group(1) == "@" else self.convs
            return f"<{m.group(1)}{table.get(m.group(2), m.group(2))}{m.group(3)}>"

        return _MENTION.sub(swap, text) if "<" in text else text


@dataclass
class Row:
    """A message as stored: its columns, reactions, the fields without a column."""

    ts: int
    user: str | None
    text: str
    subtype: str | None
    thread_ts: int | None
    edited_ts: int | None
    edited_user: str | None
    blocks: str | None
    attachments: str | None
    metadata: str | None
    extra_text: str | None
    reactions: list[tuple[str, str]]  # (name, user)
    extras: str | None


def _json_list(value: Any) -> list[JSON] | None:
    return [v for v in value if isinstance(v, dict)] or None if isinstance(value, list) else None


def _remap_extras(extras: JSON, ids: IdMap) -> JSON:
    if isinstance(extras.get("inviter"), str):
        extras["inviter"] = ids.any_user(extras["inviter"])
    files = [extras.get("file"), *(extras.get("files") or [])]
    for f in files:
        if isinstance(f, dict) and isinstance(f.get("user"), str):
            f["user"] = ids.any_user(f["user"])
    return extras


def kept_ts(message: JSON, ids: IdMap) -> int | None:
    """The ts of the row ``to_row`` makes of ``message``, None when it skips it; without the
    rest of the row (what ``to_row`` refuses is decided by the fields read here)."""
    if message.get("type", "message") != "message":
        return None
    try:
        ts = parse_ts(str(message.get("ts", "")))
        if message.get("thread_ts"):
            parse_ts(str(message["thread_ts"]))
    except ValueError:
        return None
    if message.get("user") is not None and ids.user(message["user"]) is None:
        return None
    return ts


def to_row(message: JSON, ids: IdMap) -> Row | str:
    """The message's row, or why it is skipped (``bad_ts``, ``unknown_user``, ``not_a_message``)."""
    if message.get("type", "message") != "message":
        return "not_a_message"
    try:
        ts = parse_ts(str(message.get("ts", "")))
        thread_ts = parse_ts(str(message["thread_ts"])) if message.get("thread_ts") else None
    except ValueError:
        return "bad_ts"
    user: str | None = None
    if message.get("user") is not None:
        user = ids.user(message["user"])
        if user is None:
            return "unknown_user"
    subtype = message.get("subtype")
    edited = message.get("edited") if isinstance(message.get("edited"), dict) else None
    edited_ts = edited_user = None
    if edited:
        try:
            edited_ts = parse_ts(str(edited.get("ts", "")))
            edited_user = ids.any_user(str(edited.get("user") or user or ""))
        except ValueError:
            edited_ts = None
    given_blocks, given_attachments = (
        _json_list(message.get("blocks")),
        _json_list(message.get("attachments")),
    )
    blocks = attachments = extra_text = None
    if given_blocks or given_attachments:
        content = Content(blocks=given_blocks, attachments=given_attachments)
        blocks, attachments, _, extra_text = content.columns()
    meta = message.get("metadata")
    reactions: list[tuple[str, str]] = []
    for reaction in message.get("reactions") or []:
        if isinstance(reaction, dict) and isinstance(reaction.get("name"), str):
            for uid in reaction.get("users") or []:
                if isinstance(uid, str):
                    reactions.append((reaction["name"][:100], ids.any_user(uid)))
    extras = None if COLUMNS.issuperset(message) else {k: v for k, v in message.items() if k not in COLUMNS}
    return Row(
        ts=ts,
        user=user,
        text=ids.text(str(message.get("text") or "")),
        subtype=str(subtype)[:64] if subtype else None,
        thread_ts=thread_ts,
        edited_ts=edited_ts,
        edited_user=edited_user if edited_ts is not None else None,
        blocks=blocks,
        attachments=attachments,
        metadata=orjson.dumps(meta).decode() if isinstance(meta, dict) else None,
        extra_text=extra_text,
        reactions=list(dict.fromkeys(reactions)),
        extras=orjson.dumps(_remap_extras(extras, ids)).decode() if extras else None,
    )
