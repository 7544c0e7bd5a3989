"""File bytes inside an export: ``__uploads/<file_id>/<name>``.

Slack's own exports carry files as token links (``url_private``), which importers commonly
fail on; slackdump writes the bytes into the zip as ``__uploads/<file_id>/<name>`` and
Mattermost's ``mmetl`` reads that layout, so it is the one written and read here. The folder
is not a conversation (no listing names it), so readers of the format that ignore it
(slack-export-viewer) still render the export.

Export: every file a written message carries whose bytes this workspace holds is streamed from
the blob store into the zip, one chunk at a time. Import: a message's file whose bytes the
export carries becomes a file of the workspace (a ``files`` row, state ``complete``, its bytes
in the blob store, shared in the message's conversation), so it downloads, and the message's
object of it links here (``url_private``...), not to the source; a file without bytes stays
metadata in the message, as the source wrote it. The bytes stored count against the
workspace's file quota, with what it holds when the import starts (uploads that run at the
same time may take it a little over, as two concurrent uploads may). An upload entry that
cannot be read, is over the store's size limit or the quota left, or sits outside the layout
is one report item; nothing else is lost.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote

from origin.files.objects import clean_name, types_of
from origin.files.storage import Blob, BlobStore, TooLarge
from origin.store.db import Conn
from origin.transfer.archive import Archive, ArchiveError, ItemError
from origin.transfer.plan import derived_id
from origin.transfer.report import Report
from wire.files import download_path
from wire.ids import now_us

JSON = dict[str, Any]
UPLOADS = "__uploads"
#: Bytes read from the zip (or written to it) per step.
CHUNK = 1 << 20
#: Columns of an imported file's row (state ``complete``).
FILES_SQL = (
    "INSERT INTO files (id, team_id, user_id, name, title, mimetype, filetype, size, declared, blob_key, "
    "state, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'complete', ?)"
)
SHARES_SQL = "INSERT INTO file_shares (file_id, channel_id, ts, team_id) VALUES (?, ?, ?, ?)"


def entry_name(file_id: str, name: str) -> str:
    """Where a file's bytes go in the zip."""
    return f"{UPLOADS}/{file_id}/{clean_name(name)}"


def message_files(message: JSON) -> list[JSON]:
    """The file objects a message carries (``files``, or the older single ``file``)."""
    found = [f for f in message.get("files") or [] if isinstance(f, dict)]
    if isinstance(message.get("file"), dict):
        found.append(message["file"])
    return [f for f in found if isinstance(f.get("id"), str) and f["id"]]


# -- export ---------------------------------------------------------------------------------------


async def write_uploads(
    conn: Conn, zf: zipfile.ZipFile, blobs: BlobStore, team_id: str, file_ids: Iterable[str]
) -> int:
    """Stream the bytes of ``file_ids`` (those of this workspace with bytes) into ``zf``;
    returns how many were written."""
    wanted = list(dict.fromkeys(file_ids))
    written = 0
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        rows = await conn.fetchall(
            f"SELECT id, name, blob_key FROM files WHERE team_id = ? AND blob_key IS NOT NULL "
            f"AND state IN ('stored', 'complete') AND id IN ({','.join('?' * len(part))}) ORDER BY id",
            [team_id, *part],
        )
        for file_id, name, key in rows:
            info = zipfile.ZipInfo(entry_name(str(file_id), str(name)))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as out:
                async for chunk in blobs.read(str(key)):
                    out.write(chunk)
            written += 1
    return written


# -- import ---------------------------------------------------------------------------------------


class Uploads:
    """The upload entries of an archive, and putting one into the blob store: each at most
    ``max_bytes``, and all of them together at most ``quota_left`` (the workspace's file quota
    less what it holds, as :mod:`origin.files.service` counts it; None: no quota)."""

    def __init__(
        self,
        archive: Archive,
        blobs: BlobStore,
        report: Report,
        max_bytes: int,
        quota_left: int | None = None,
    ) -> None:
        self.archive, self.blobs, self.report, self.max_bytes = archive, blobs, report, max_bytes
        self.quota_left = quota_left
        self.entries: dict[str, str] = {}  # file id -> entry name
        self.used: set[str] = set()
        prefix = UPLOADS + "/"
        for name in archive.names:
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            if len(parts) != 2 or not parts[0] or not parts[1] or parts[0] in self.entries:
                report.skip("upload", "malformed_path", name)
                continue
            self.entries[parts[0]] = name

    def __bool__(self) -> bool:
        return bool(self.entries)

    async def _chunks(self, name: str) -> AsyncIterator[bytes]:
        for chunk in self.archive.stream(name, CHUNK):
            yield chunk

    async def put(self, file_id: str) -> Blob | None:
        """The bytes of ``file_id``'s entry stored, or None (none in the export, or reported)."""
        name = self.entries.get(file_id)
        if name is None:
            return None
        self.used.add(file_id)
        limit = self.max_bytes if self.quota_left is None else max(0, min(self.max_bytes, self.quota_left))
        try:
            blob = await self.blobs.put(self._chunks(name), limit)
        except TooLarge:
            if limit < self.max_bytes:
                self.report.skip(
                    "upload", "storage_limit_reached", f"{name}: the workspace's file quota is used up"
                )
            else:
                self.report.skip("upload", "file_too_large", f"{name}: over {self.max_bytes} bytes")
            return None
        except ItemError as exc:
            self.report.skip("upload", "unreadable", str(exc))
            return None
        if self.quota_left is not None:
            self.quota_left -= blob.size
        return blob

    def finish(self) -> None:
        for file_id, name in self.entries.items():
            if file_id not in self.used:
                self.report.skip("upload", "unreferenced", name)


async def file_id_for(conn: Conn, team_id: str, original: str) -> tuple[str, bool]:
    """(the id the file gets here, whether this workspace has it already): the export's id
    unless another workspace holds it, else a stable derived one."""
    candidate, attempt = original, 0
    while True:
        row = await conn.fetchone("SELECT team_id FROM files WHERE id = ?", [candidate])
        if row is None:
            return candidate, False
        if str(row[0]) == team_id:
            return candidate, True
        candidate = derived_id(team_id, original, attempt)
        attempt += 1


async def quota_used(conn: Conn, team_id: str) -> int:
    """The bytes of ``team_id``'s files that count against its quota: those held, and the
    declared length of uploads under way (what ``Files`` checks an upload against)."""
    row = await conn.fetchone(
        "SELECT COALESCE(SUM(CASE WHEN state IN ('stored', 'complete') THEN size ELSE declared END), 0) "
        "FROM files WHERE team_id = ? AND (state IN ('stored', 'complete') "
        "OR (state IN ('pending', 'receiving') AND expires > ?))",
        [team_id, now_us()],
    )
    return int(row[0]) if row else 0


def stored_name(obj: JSON) -> str:
    """The name an imported file is stored under (its ``files`` row's, and its URLs')."""
    return clean_name(str(obj.get("name") or obj.get("title") or "file"))


def point_here(obj: JSON, file_id: str, team_id: str, owner: str, public_url: str) -> None:
    """The links of a message's file object whose bytes this workspace holds, made ours
    (``url_private``... as ``origin.files.objects.file_object`` builds them), instead of the
    source's (token links into the other workspace); the source's thumbnails and public link,
    which point there too, are dropped."""
    base, name = public_url.rstrip("/"), quote(stored_name(obj))
    for key in [k for k in obj if k.startswith("thumb_") or k in _FOREIGN_LINKS]:
        del obj[key]
    obj["url_private"] = base + download_path(team_id, file_id, name)
    obj["url_private_download"] = base + download_path(team_id, file_id, name, download=True)
    obj["permalink"] = f"{base}/files/{owner}/{file_id}/{name}"


#: Links of a source's file object, besides ``thumb_*``, that only the source serves.
_FOREIGN_LINKS = frozenset(
    {"permalink_public", "url_static_preview", "deanimate", "deanimate_gif", "edit_link"}
)


def file_row(obj: JSON, file_id: str, team_id: str, owner: str, blob: Blob, ts_us: int) -> tuple[Any, ...]:
    """An imported file's ``files`` row (``FILES_SQL``)."""
    name = stored_name(obj)
    mimetype, filetype = types_of(name, obj.get("filetype") if isinstance(obj.get("filetype"), str) else None)
    if isinstance(obj.get("mimetype"), str) and 0 < len(obj["mimetype"]) <= 255:
        mimetype = obj["mimetype"]
    created = obj.get("created")
    created_us = int(created) * 1_000_000 if isinstance(created, int) and created > 0 else ts_us
    title = str(obj.get("title") or name)[:255]
    return (
        file_id,
        team_id,
        owner,
        name,
        title,
        mimetype,
        filetype,
        blob.size,
        blob.size,
        blob.key,
        created_us,
    )


__all__ = ["ArchiveError", "Uploads", "entry_name", "message_files", "write_uploads"]
