"""Exporting a workspace (or some of its conversations, or a date range) as a Slack export zip:
``users.json``, ``channels.json``, ``groups.json``, ``dms.json``, ``mpims.json`` and one folder
per conversation of ``YYYY-MM-DD.json`` day files (UTC), messages with Slack's fields, thread
parents with ``replies``, reactions, edits, and what an import kept without a column
(``message_extras``: files' metadata, bot ids...). Read in one consistent snapshot. Given the
blob store, the bytes of the files the messages carry go in too (:mod:`origin.transfer.uploads`:
``__uploads/<file_id>/<name>``, streamed).

The zip is written to a temporary name beside ``out`` and renamed when complete, so a failed
or cancelled export never leaves a half-written file under the name asked for.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from origin.files.storage import BlobStore
from origin.models import (
    CONVERSATION_COLUMNS,
    MESSAGE_FIELDS,
    USER_COLUMNS,
    add_extras,
    message_from_row,
    user_from_row,
)
from origin.store.db import Conn
from origin.store.shards import Store
from origin.transfer.uploads import message_files, write_uploads
from wire.ids import ts_str

JSON = dict[str, Any]
Progress = Callable[[int, int], None]
_FIELDS = ", ".join("m." + c.strip() for c in MESSAGE_FIELDS.split(","))
_DUMP = orjson.OPT_INDENT_2


class ExportCancelled(Exception):
    pass


def day_of(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us // 1_000_000, UTC).strftime("%Y-%m-%d")


def conversation_entry(row: tuple[Any, ...], members: list[str]) -> tuple[str, str, JSON]:
    """(listing file, folder, object) of a conversation in Slack's export layout."""
    cid, _team, name, kind, private, archived, created, creator, topic, purpose, _n, _key = row
    if kind == "im":
        return "dms.json", str(cid), {"id": cid, "created": int(created), "members": members}
    obj: JSON = {
        "id": cid,
        "name": name,
        "created": int(created),
        "creator": creator,
        "is_archived": bool(archived),
        "is_general": name == "general",
        "members": members,
        "topic": orjson.loads(topic),
        "purpose": orjson.loads(purpose),
    }
    if kind == "mpim":
        return "mpims.json", str(name), obj
    return ("groups.json" if private else "channels.json"), str(name), obj


def export_message(row: tuple[Any, ...], reactions: list[JSON], extras: str | None) -> JSON:
    message = message_from_row(row[:16], reactions)
    message.pop("team", None)
    if message.get("user") is None:
        message.pop("user")
    return add_extras(message, extras)


async def _reactions(conn: Conn, channel_id: str) -> dict[int, list[JSON]]:
    rows = await conn.fetchall(
        "SELECT ts, name, user_id FROM reactions WHERE channel_id = ? ORDER BY ts, added, user_id",
        [channel_id],
    )
    out: dict[int, dict[str, list[str]]] = {}
    for ts, name, user in rows:
        out.setdefault(int(ts), {}).setdefault(str(name), []).append(str(user))
    return {
        ts: [{"name": n, "users": u, "count": len(u)} for n, u in names.items()] for ts, names in out.items()
    }


async def export_workspace(
    store: Store,
    team_id: str,
    out: Path,
    *,
    channels: Sequence[str] | None = None,
    oldest: int | None = None,
    latest: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    counts: MutableMapping[str, int] | None = None,
    blobs: BlobStore | None = None,
) -> JSON:
    """Write the export to ``out``; returns counts (users, conversations, messages, files:
    those whose bytes went in, with ``blobs``), kept in ``counts`` as they grow when given."""
    tmp = out.with_name(out.name + ".partial")
    if counts is None:
        counts = {}
    counts.update({"users": 0, "conversations": 0, "messages": 0, "files": 0})
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            async with store.snapshot(team_id) as conn:
                files = await _write(conn, zf, team_id, counts, channels, oldest, latest, progress, cancelled)
                if blobs is not None and files:
                    counts["files"] = await write_uploads(conn, zf, blobs, team_id, files)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return dict(counts)


async def _write(
    conn: Conn,
    zf: zipfile.ZipFile,
    team_id: str,
    counts: MutableMapping[str, int],
    channels: Sequence[str] | None,
    oldest: int | None,
    latest: int | None,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> list[str]:
    """Everything but the files' bytes; returns the ids of the files the messages carry."""
    users = []
    for row in await conn.fetchall(
        f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? ORDER BY id", [team_id]
    ):
        user = user_from_row(row)
        user.pop("is_app_user", None)
        users.append(user)
    zf.writestr("users.json", orjson.dumps(users, option=_DUMP))
    counts["users"] = len(users)
    convs = await conn.fetchall(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ? ORDER BY id", [team_id]
    )
    if channels is not None:
        wanted = set(channels)
        convs = [c for c in convs if c[0] in wanted or c[2] in wanted]
    members: dict[str, list[str]] = {}
    for cid, uid in await conn.fetchall(
        "SELECT channel_id, user_id FROM members WHERE team_id = ? ORDER BY channel_id, user_id", [team_id]
    ):
        members.setdefault(str(cid), []).append(str(uid))
    files: list[str] = []
    listings: dict[str, list[JSON]] = {
        n: [] for n in ("channels.json", "groups.json", "dms.json", "mpims.json")
    }
    for i, conv in enumerate(convs):
        if cancelled is not None and cancelled():
            raise ExportCancelled()
        listing, folder, obj = conversation_entry(conv, members.get(str(conv[0]), []))
        listings[listing].append(obj)
        counts["messages"] += await _conversation(conn, zf, str(conv[0]), folder, oldest, latest, files)
        if progress is not None:
            progress(i + 1, len(convs))
    for name, objs in listings.items():
        zf.writestr(name, orjson.dumps(objs, option=_DUMP))
    counts["conversations"] = len(convs)
    return files


async def _conversation(
    conn: Conn,
    zf: zipfile.ZipFile,
    channel_id: str,
    folder: str,
    oldest: int | None,
    latest: int | None,
    files: list[str],
) -> int:
    cond, params = "", [channel_id]
    if oldest is not None:
        cond += " AND m.ts >= ?"
        params.append(str(oldest))
    if latest is not None:
        cond += " AND m.ts <= ?"
        params.append(str(latest))
    rows = await conn.fetchall(
        f"SELECT {_FIELDS}, e.payload FROM messages m LEFT JOIN message_extras e "
        f"ON e.channel_id = m.channel_id AND e.ts = m.ts WHERE m.channel_id = ?{cond} ORDER BY m.ts",
        [int(p) if p.isdigit() else p for p in params],
    )
    reactions = await _reactions(conn, channel_id)
    replies: dict[int, list[JSON]] = {}
    for row in rows:
        if row[6] is not None and row[6] != row[1]:
            replies.setdefault(int(row[6]), []).append({"user": row[3], "ts": ts_str(int(row[1]))})
    days: dict[str, list[JSON]] = {}
    for row in rows:
        message = export_message(row, reactions.get(int(row[1]), []), row[16])
        if int(row[1]) in replies:
            message["replies"] = replies[int(row[1])]
        if row[16] is not None:
            files.extend(f["id"] for f in message_files(message))
        days.setdefault(day_of(int(row[1])), []).append(message)
    for day, messages in days.items():
        zf.writestr(f"{folder}/{day}.json", orjson.dumps(messages, option=_DUMP))
    return len(rows)
