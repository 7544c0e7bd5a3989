"""The files service: Slack's upload flows, who may see a file, listing and deleting.

v2 flow: :meth:`Files.start_upload` (``files.getUploadURLExternal``) reserves the declared
length against the workspace's quota and answers a signed upload URL; :meth:`Files.receive`
(the POST to that URL) claims it once, streams exactly the declared bytes into the blob store
and makes the thumbnails; :meth:`Files.complete` (``files.completeUploadExternal``) titles and
shares the stored files. Nothing is visible to anyone but its owner before it is complete, and
``file_shared`` is emitted only then. The legacy ``files.upload`` stores first and then does
the same (:meth:`Files.adopt`).

Who may see a file: its owner, and whoever may see a conversation it is shared in (members; for
a public channel, the workspace: :mod:`wire.visibility`). Anyone else is answered as if the file
did not exist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson

from origin.files import signing
from origin.files.objects import FILE_COLUMNS, JSON, FileRow, clean_name, file_object, types_of, with_shares
from origin.files.settings import FilesSettings
from origin.files.share import post_files, tombstone_in_messages
from origin.files.storage import Blob, BlobStore, TooLarge
from origin.files.streams import LengthMismatch, exactly
from origin.files.thumbs import make_thumbs, wants_thumbs
from origin.service import targets
from origin.service.access import require_member, require_open, visible
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store
from wire.args import Args
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id, now_us

log = logging.getLogger("flannel.origin.files")
#: States whose bytes count against the quota (pending/receiving count their declared length).
_HELD = ("stored", "complete")
_RESERVED = ("pending", "receiving")
#: Shares of a file that a user may see: (channel, ts, is_private, name, kind).
_SHARES_SQL = (
    "SELECT s.channel_id, s.ts, c.is_private, c.name, c.kind FROM file_shares s "
    "JOIN conversations c ON c.id = s.channel_id "
    "LEFT JOIN members m ON m.channel_id = s.channel_id AND m.user_id = ? "
    "WHERE s.file_id = ? AND (m.user_id IS NOT NULL OR (c.kind = 'channel' AND c.is_private = 0)) "
    "ORDER BY s.ts"
)
_SEES_SQL = (
    "(f.user_id = ? OR EXISTS (SELECT 1 FROM file_shares s JOIN conversations c ON c.id = s.channel_id "
    "LEFT JOIN members m ON m.channel_id = s.channel_id AND m.user_id = ? WHERE s.file_id = f.id "
    "AND (m.user_id IS NOT NULL OR (c.kind = 'channel' AND c.is_private = 0))))"
)
TYPES = {
    "images": "f.mimetype LIKE 'image/%'",
    "pdfs": "f.filetype = 'pdf'",
    "zips": "f.filetype IN ('zip', 'gzip')",
    "snippets": "f.filetype IN ('text', 'markdown', 'python', 'javascript', 'typescript', 'json', 'csv')",
    "spaces": "f.filetype = 'space'",
    "gdocs": "f.filetype = 'gdoc'",
}


class UploadRefused(Exception):
    """The POST to an upload URL was refused: ``status`` and Slack's ``code``."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail


def _cols(prefix: str = "f.") -> str:
    return ", ".join(prefix + c.strip() for c in FILE_COLUMNS.split(","))


class Files:
    def __init__(
        self, store: Store, blobs: BlobStore, settings: FilesSettings, secret: str, base_url: str
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.settings = settings
        self.secret = secret
        self.public_url = (settings.public_url or base_url).rstrip("/")

    # -- the v2 flow --------------------------------------------------------------------------

    async def start_upload(
        self, caller: Caller, filename: str, length: int, alt_txt: str | None = None
    ) -> JSON:
        if length < 0:
            raise invalid_arguments("length", "a byte count")
        if length > self.settings.max_bytes:
            raise SlackError("file_too_large", f"files are at most {self.settings.max_bytes} bytes")
        name = clean_name(filename)
        mimetype, filetype = types_of(name)
        file_id = new_id("F")
        now = now_us()
        expires = int(time.time() + self.settings.upload_ttl_s)
        async with self.store.write(caller.team_id) as tx:
            await self._check_quota(tx.conn, caller.team_id, length)
            await tx.conn.execute(
                "INSERT INTO files (id, team_id, user_id, name, title, mimetype, filetype, declared, state, "
                "created, expires, alt_txt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                [
                    file_id,
                    caller.team_id,
                    caller.user_id,
                    name,
                    name,
                    mimetype,
                    filetype,
                    length,
                    now,
                    expires * 1_000_000,
                    alt_txt,
                ],
            )
        url = signing.upload_url(self.public_url, self.secret, caller.team_id, file_id, expires)
        return {"upload_url": url, "file_id": file_id}

    async def _check_quota(self, conn: Conn, team_id: str, more: int) -> None:
        held = await conn.fetchone(
            "SELECT COALESCE(SUM(size), 0) FROM files WHERE team_id = ? AND state IN (?, ?)",
            [team_id, *_HELD],
        )
        reserved = await conn.fetchone(
            "SELECT COALESCE(SUM(declared), 0) FROM files "
            "WHERE team_id = ? AND state IN (?, ?) AND expires > ?",
            [team_id, *_RESERVED, now_us()],
        )
        used = int(held[0] if held else 0) + int(reserved[0] if reserved else 0)
        if used + more > self.settings.quota_bytes:
            raise SlackError("storage_limit_reached", "the workspace's file quota is used up")

    async def receive(self, token: str, chunks: AsyncIterable[bytes]) -> int:
        """The POST to an upload URL: claim it (once), stream the bytes in, store them."""
        grant = signing.verify(self.secret, token)
        if grant is None:
            raise UploadRefused(404, "upload_url_invalid", "unknown or expired upload URL")
        window = now_us() + int(self.settings.receive_window_s * 1_000_000)
        try:
            async with self.store.write(grant.team_id) as tx:
                claimed = await tx.conn.execute(
                    "UPDATE files SET state = 'receiving', expires = ? WHERE id = ? AND team_id = ? "
                    "AND state = 'pending'",
                    [window, grant.file_id, grant.team_id],
                )
                row = await tx.conn.fetchone("SELECT declared FROM files WHERE id = ?", [grant.file_id])
        except SlackError:
            raise UploadRefused(404, "upload_url_invalid") from None
        if not claimed or row is None:
            raise UploadRefused(409, "upload_url_already_used", "an upload URL takes one upload")
        declared = int(row[0])
        try:
            blob = await self.blobs.put(exactly(chunks, declared), min(declared, self.settings.max_bytes))
        except (LengthMismatch, TooLarge) as exc:
            await self._fail(grant.team_id, grant.file_id)
            raise UploadRefused(400, "invalid_length", str(exc)) from None
        except BaseException:
            await asyncio.shield(self._fail(grant.team_id, grant.file_id))
            raise
        await self._stored(grant.team_id, grant.file_id, blob, "receiving")
        return blob.size

    async def _fail(self, team_id: str, file_id: str) -> None:
        async with self.store.write(team_id) as tx:
            await tx.conn.execute(
                "UPDATE files SET state = 'failed', expires = ? WHERE id = ?", [now_us(), file_id]
            )

    async def _stored(self, team_id: str, file_id: str, blob: Blob, was: str) -> None:
        async with self.store.read(team_id) as conn:
            found = await conn.fetchone(f"SELECT {_cols('')} FROM files WHERE id = ?", [file_id])
        thumbs = await self._thumbs(FileRow.of(found).mimetype, blob) if found else {}
        thumbs_json = thumbs and orjson.dumps(thumbs).decode()
        expires = now_us() + int(self.settings.upload_ttl_s * 1_000_000)
        async with self.store.write(team_id) as tx:
            await tx.conn.execute(
                "UPDATE files SET state = 'stored', blob_key = ?, size = ?, thumbs = ?, expires = ? "
                "WHERE id = ? AND state = ?",
                [blob.key, blob.size, thumbs_json or None, expires, file_id, was],
            )

    async def _thumbs(self, mimetype: str, blob: Blob) -> dict[str, Any]:
        if not wants_thumbs(mimetype, blob.size):
            return {}
        data = b"".join([c async for c in self.blobs.read(blob.key)])
        made = await asyncio.to_thread(make_thumbs, data)
        if made is None:
            return {}
        (w, h), thumbs = made
        sizes: dict[str, Any] = {}
        for thumb in thumbs:
            stored = await self.blobs.put(once(thumb.data), len(thumb.data))
            sizes[str(thumb.size)] = {"key": stored.key, "w": thumb.w, "h": thumb.h}
        return {"w": w, "h": h, "sizes": sizes}

    async def adopt(self, caller: Caller, blob: Blob, filename: str, filetype: str | None) -> str:
        """A file whose bytes were stored by the legacy ``files.upload``: recorded as stored."""
        name = clean_name(filename)
        mimetype, kind = types_of(name, filetype)
        file_id = new_id("F")
        try:
            async with self.store.write(caller.team_id) as tx:
                await self._check_quota(tx.conn, caller.team_id, blob.size)
                await tx.conn.execute(
                    "INSERT INTO files (id, team_id, user_id, name, title, mimetype, filetype, declared, "
                    "state, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?)",
                    [
                        file_id,
                        caller.team_id,
                        caller.user_id,
                        name,
                        name,
                        mimetype,
                        kind,
                        blob.size,
                        now_us(),
                        now_us() + int(self.settings.receive_window_s * 1_000_000),
                    ],
                )
        except BaseException:
            await self.release(blob.key)
            raise
        await self._stored(caller.team_id, file_id, blob, "receiving")
        return file_id

    async def legacy(self, caller: Caller, blob: Blob, given: Args, store: Store | None = None) -> JSON:
        """The rest of the legacy ``files.upload`` once its bytes are stored: record the file,
        then share it where ``channels`` (or ``channel``) says. Answers ``{file, ts?}``."""
        try:
            name = given.string("filename", given.string("title", "file", max_len=255), max_len=1000)
            channels = given.items("channels", 20) if "channels" in given else []
            if not channels and "channel" in given:
                channels = [given.string("channel", max_len=80)]
            title, text = given.opt_string("title"), given.string("initial_comment", "", max_len=40_000)
            thread_ts = given.opt_ts("thread_ts")
        except SlackError:
            await self.release(blob.key)
            raise
        file_id = await self.adopt(caller, blob, name, given.opt_string("filetype"))
        answer = await self.complete(caller, [(file_id, title)], channels, text, thread_ts, store)
        body: JSON = {"file": answer["files"][0]}
        if "ts" in answer:
            body["ts"] = answer["ts"]
        return body

    async def complete(
        self,
        caller: Caller,
        items: list[tuple[str, str | None]],
        channels: list[str],
        text: str,
        thread_ts: int | None,
        store: Store | None = None,
    ) -> JSON:
        """Title and share the stored files ``items`` ((id, title)) in ``channels`` (none: kept
        private to their owner), one ``file_share`` message per channel."""
        if not items:
            raise invalid_arguments("files", "at least one {id, title}")
        if thread_ts is not None and len(channels) != 1:
            raise invalid_arguments("thread_ts", "needs exactly one channel")
        posted: list[JSON] = []
        async with (store or self.store).write(caller.team_id) as tx:
            rows: list[FileRow] = []
            for file_id, title in items:
                found = await tx.conn.fetchone(
                    f"SELECT {_cols('')} FROM files WHERE id = ? AND team_id = ?", [file_id, caller.team_id]
                )
                f = FileRow.of(found) if found else None
                if f is None or f.user_id != caller.user_id or f.state not in ("stored", "complete"):
                    raise SlackError("file_not_found", f"{file_id} is not an upload of yours that arrived")
                new_title = (title or f.title or f.name)[:255]
                await tx.conn.execute(
                    "UPDATE files SET state = 'complete', title = ?, expires = NULL WHERE id = ?",
                    [new_title, f.id],
                )
                if f.state == "complete" and new_title != f.title:
                    await tx.emit(
                        {
                            "type": "file_change",
                            "file_id": f.id,
                            "file": {"id": f.id},
                            "user_id": caller.user_id,
                        }
                    )
                rows.append(FileRow(**{**f.__dict__, "title": new_title, "state": "complete"}))
            objs = [file_object(f, self.public_url) for f in rows]
            for ref in channels:
                conv = await targets.resolve(tx, caller, ref)
                require_member(conv)
                require_open(conv)
                message, _ = await post_files(tx, caller, conv, text, thread_ts, objs)
                posted.append({"channel": conv.id, "ts": message["ts"]})
            shared = [with_shares(obj, await self._shares(tx.conn, caller, obj["id"])) for obj in objs]
        answer: JSON = {"files": shared, "messages": posted}
        if len(posted) == 1:
            answer["channel"], answer["ts"] = posted[0]["channel"], posted[0]["ts"]
        return answer

    # -- reading --------------------------------------------------------------------------------

    async def _shares(
        self, conn: Conn, caller: Caller, file_id: str
    ) -> list[tuple[str, int, bool, str | None, str]]:
        rows = await conn.fetchall(_SHARES_SQL, [caller.user_id, file_id])
        return [
            (str(r[0]), int(r[1]), bool(r[2]), None if r[3] is None else str(r[3]), str(r[4])) for r in rows
        ]

    async def visible_file(self, caller: Caller, file_id: str) -> FileRow:
        """The complete file if ``caller`` may see it, else ``file_not_found`` (no hint why)."""
        async with self.store.read(caller.team_id) as conn:
            found = await conn.fetchone(
                f"SELECT {_cols()} FROM files f WHERE f.id = ? AND f.team_id = ? AND f.state = 'complete' "
                f"AND {_SEES_SQL}",
                [file_id, caller.team_id, caller.user_id, caller.user_id],
            )
        if found is None:
            raise SlackError("file_not_found")
        return FileRow.of(found)

    async def info(self, caller: Caller, file_id: str) -> JSON:
        f = await self.visible_file(caller, file_id)
        async with self.store.read(caller.team_id) as conn:
            shares = await self._shares(conn, caller, f.id)
        return {
            "file": with_shares(file_object(f, self.public_url), shares),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    async def list(
        self,
        caller: Caller,
        channel: str | None,
        user: str | None,
        types: list[str],
        ts_from: int | None,
        ts_to: int | None,
        count: int,
        page: int,
    ) -> JSON:
        conds = ["f.team_id = ?", "f.state = 'complete'", _SEES_SQL]
        params: list[Any] = [caller.team_id, caller.user_id, caller.user_id]
        async with self.store.read(caller.team_id) as conn:
            if channel:
                conv = await visible(conn, caller, channel)
                conds.append(
                    "EXISTS (SELECT 1 FROM file_shares x WHERE x.file_id = f.id AND x.channel_id = ?)"
                )
                params.append(conv.id)
            if user:
                conds.append("f.user_id = ?")
                params.append(user)
            if ts_from is not None:
                conds.append("f.created >= ?")
                params.append(ts_from)
            if ts_to is not None:
                conds.append("f.created <= ?")
                params.append(ts_to)
            wanted = [TYPES[t] for t in types if t != "all"]
            if wanted:
                conds.append("(" + " OR ".join(wanted) + ")")
            where = " AND ".join(conds)
            total_row = await conn.fetchone(f"SELECT COUNT(*) FROM files f WHERE {where}", params)
            rows = await conn.fetchall(
                f"SELECT {_cols()} FROM files f WHERE {where} "
                "ORDER BY f.created DESC, f.id DESC LIMIT ? OFFSET ?",
                [*params, count, (page - 1) * count],
            )
            out = []
            for row in rows:
                f = FileRow.of(row)
                out.append(
                    with_shares(file_object(f, self.public_url), await self._shares(conn, caller, f.id))
                )
        total = int(total_row[0]) if total_row else 0
        return {
            "files": out,
            "paging": {"count": count, "total": total, "page": page, "pages": max(1, -(-total // count))},
        }

    async def delete(self, caller: Caller, file_id: str, store: Store | None = None) -> None:
        """``files.delete``: by its owner or an admin (anyone else: as if it did not exist, unless
        they may see it: ``cant_delete_file``)."""
        async with (store or self.store).write(caller.team_id) as tx:
            found = await tx.conn.fetchone(
                f"SELECT {_cols('')} FROM files "
                "WHERE id = ? AND team_id = ? AND state IN ('stored', 'complete')",
                [file_id, caller.team_id],
            )
            f = FileRow.of(found) if found else None
            if f is None:
                raise SlackError("file_not_found")
            if f.user_id != caller.user_id and not caller.is_admin:
                if not await self._shares(tx.conn, caller, f.id):
                    raise SlackError("file_not_found")
                raise SlackError("cant_delete_file")
            channels = await tombstone_in_messages(tx.conn, f.id)
            await tx.conn.execute("DELETE FROM files WHERE id = ?", [f.id])
            await tx.emit(
                {"type": "file_deleted", "file_id": f.id, "channel_ids": channels, "user_id": caller.user_id}
            )
        await self._release_row(f)

    async def download(self, caller: Caller, file_id: str) -> FileRow:
        return await self.visible_file(caller, file_id)

    # -- cleaning up ----------------------------------------------------------------------------

    async def _release_row(self, f: FileRow) -> None:
        keys = [f.blob] if f.blob else []
        keys += [t["key"] for t in f.thumbs.get("sizes", {}).values()]
        for key in keys:
            await self.release(key)

    async def release(self, key: str) -> None:
        """Delete the blob unless another file (on any shard) still holds it."""
        for db in self.store.shards:
            async with db.read() as conn:
                held = await conn.fetchone(
                    "SELECT 1 FROM files WHERE blob_key = ? OR thumbs LIKE ? LIMIT 1", [key, f"%{key}%"]
                )
            if held is not None:
                return
        await self.blobs.delete(key)

    async def sweep(self) -> int:
        """Remove uploads that were never completed (and their bytes) and what interrupted
        writes left in the blob store; return how many rows went."""
        removed = 0
        now = now_us()
        for db in self.store.shards:
            async with db.read() as conn:
                rows = await conn.fetchall(
                    f"SELECT {_cols('')} FROM files "
                    "WHERE state IN ('pending', 'receiving', 'stored', 'failed') "
                    "AND expires < ?",
                    [now],
                )
            for row in rows:
                f = FileRow.of(row)
                async with self.store.write(f.team_id) as tx:
                    gone = await tx.conn.execute(
                        "DELETE FROM files WHERE id = ? AND state = ? AND expires < ?", [f.id, f.state, now]
                    )
                if gone:
                    removed += 1
                    await self._release_row(f)
        await self.blobs.sweep(self.settings.receive_window_s)
        return removed


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data
