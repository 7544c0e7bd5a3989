"""A file as Slack shows it: the object in ``files.info``, in messages and in events.

The type comes from the file's name (never from the bytes or the uploader's content type, so
an upload cannot claim to be what it is not); only :data:`SAFE_IMAGES` are ever served inline.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from wire.files import download_path, thumb_path
from wire.ids import ts_str

JSON = dict[str, Any]
#: Images a browser may show inline (no SVG: it can carry script).
SAFE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: Thumbnail edges made for images, as Slack names them (thumb_64, thumb_360...).
THUMB_SIZES = (64, 80, 160, 360, 480, 720)
MAX_NAME = 255
_FILETYPES = {
    "jpeg": "jpg",
    "jpg": "jpg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "svg": "svg",
    "pdf": "pdf",
    "txt": "text",
    "text": "text",
    "md": "markdown",
    "csv": "csv",
    "json": "json",
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "html": "html",
    "htm": "html",
    "zip": "zip",
    "gz": "gzip",
    "mp4": "mp4",
    "mp3": "mp3",
    "doc": "doc",
    "docx": "docx",
    "xls": "xls",
    "xlsx": "xlsx",
}
_PRETTY = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "pdf": "PDF", "text": "Plain Text", "binary": "Binary"}
#: Columns a file is read with (``FILE_COLUMNS`` order is what :class:`FileRow` takes).
FILE_COLUMNS = (
    "id, team_id, user_id, name, title, mimetype, filetype, size, blob_key, state, created, thumbs, alt_txt"
)


@dataclass(frozen=True)
class FileRow:
    id: str
    team_id: str
    user_id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    size: int
    blob: str | None
    state: str
    created: int  # µs
    thumbs: dict[str, Any]
    alt_txt: str | None

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> FileRow:
        return cls(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            str(row[5]),
            str(row[6]),
            int(row[7]),
            None if row[8] is None else str(row[8]),
            str(row[9]),
            int(row[10]),
            orjson.loads(row[11]) if row[11] else {},
            None if row[12] is None else str(row[12]),
        )


def clean_name(name: str) -> str:
    """A file name as shown and stored: no path, no control characters, at most 255 chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or "file")[:MAX_NAME]


def types_of(name: str, filetype: str | None = None) -> tuple[str, str]:
    """(mimetype, filetype) for a file named ``name`` (``filetype`` as the uploader gave it, for
    a name without an extension)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = _FILETYPES.get(ext) or (
        filetype if filetype and re.fullmatch(r"[a-z0-9]{1,16}", filetype) else None
    )
    mime = mimetypes.guess_type(f"x.{ext}")[0] if ext else None
    if mime is None:
        mime = "text/plain" if kind == "text" else "application/octet-stream"
    return mime, kind or (ext if re.fullmatch(r"[a-z0-9]{1,16}", ext) else "binary")


def file_object(f: FileRow, base_url: str) -> JSON:
    """The file's object without its shares (what a message carries)."""
    base = base_url.rstrip("/")
    name = quote(f.name)
    obj: JSON = {
        "id": f.id,
        "created": f.created // 1_000_000,
        "timestamp": f.created // 1_000_000,
        "name": f.name,
        "title": f.title,
        "mimetype": f.mimetype,
        "filetype": f.filetype,
        "pretty_type": _PRETTY.get(f.filetype, f.filetype.upper()),
        "user": f.user_id,
        "user_team": f.team_id,
        "editable": False,
        "size": f.size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": base + download_path(f.team_id, f.id, name),
        "url_private_download": base + download_path(f.team_id, f.id, name, download=True),
        "permalink": f"{base}/files/{f.user_id}/{f.id}/{name}",
        "has_rich_preview": False,
        "file_access": "visible",
    }
    if f.alt_txt:
        obj["alt_txt"] = f.alt_txt
    for size, thumb in sorted(f.thumbs.get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        obj[f"thumb_{size}"] = base + thumb_path(f.team_id, f.id, int(size))
        obj[f"thumb_{size}_w"] = thumb["w"]
        obj[f"thumb_{size}_h"] = thumb["h"]
    if "w" in f.thumbs:
        obj["original_w"], obj["original_h"] = f.thumbs["w"], f.thumbs["h"]
    return obj


def tombstone(file_id: str) -> JSON:
    """What a message shows of a file that was deleted (Slack's shape)."""
    return {"id": file_id, "mode": "tombstone"}


def with_shares(obj: JSON, shares: list[tuple[str, int, bool, str | None, str]]) -> JSON:
    """``obj`` with Slack's ``channels``/``groups``/``ims`` and ``shares`` from (channel,
    ts, is_private, name, kind) rows the viewer may see."""
    out = dict(obj)
    public: dict[str, list[JSON]] = {}
    private: dict[str, list[JSON]] = {}
    channels: list[str] = []
    groups: list[str] = []
    ims: list[str] = []
    for channel, ts, is_private, name, kind in shares:
        entry = {"ts": ts_str(ts), "channel_name": name or "", "team_id": obj["user_team"], "reply_count": 0}
        (private if is_private or kind != "channel" else public).setdefault(channel, []).append(entry)
        target = ims if kind == "im" else groups if is_private or kind == "mpim" else channels
        if channel not in target:
            target.append(channel)
    out["channels"], out["groups"], out["ims"] = channels, groups, ims
    out["shares"] = {k: v for k, v in (("public", public), ("private", private)) if v}
    out["is_public"] = bool(public)
    return out
