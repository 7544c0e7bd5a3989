"""Where file bytes travel: the URL layout of uploads and downloads, and the headers a proxy
(the edge, the router) passes through while it streams them.

``/upload/v1/<team>.<token>``: the short-lived, single-use upload URL that
``files.getUploadURLExternal`` answers (the client POSTs the bytes to it, raw or multipart).
``/files-pri/<team>-<file>/<name>`` (``url_private``), ``/files-pri/<team>-<file>/download/<name>``
(``url_private_download``) and ``/files-tmb/<team>-<file>/<size>.png`` (thumbnails) need the
caller's token. The workspace id leads each path so that the router can place the request on
the workspace's edge without looking anything up. The origin never serves a path as a file
name: it reads the file id out of it and looks the file up.
"""

from __future__ import annotations

import re

UPLOAD_PREFIX = "/upload/v1/"
DOWNLOAD_PREFIX = "/files-pri/"
THUMB_PREFIX = "/files-tmb/"
#: The legacy upload method, streamed (never buffered) like the upload URL.
LEGACY_UPLOAD = "/api/files.upload"
#: Request headers a proxy passes on with the streamed body.
REQUEST_HEADERS = ("authorization", "content-type", "content-length", "range", "if-none-match", "user-agent")
#: Answer headers a proxy passes back (the rest are hop-by-hop or the proxy's own).
ANSWER_HEADERS = (
    "content-type",
    "content-length",
    "content-range",
    "content-disposition",
    "accept-ranges",
    "etag",
    "cache-control",
    "x-content-type-options",
    "content-security-policy",
    "retry-after",
    "x-flannel-offset",
)
_TEAM = re.compile(r"[A-Z0-9]{1,32}")


def upload_path(team_id: str, token: str) -> str:
    return f"{UPLOAD_PREFIX}{team_id}.{token}"


def download_path(team_id: str, file_id: str, name: str, download: bool = False) -> str:
    return f"{DOWNLOAD_PREFIX}{team_id}-{file_id}/{'download/' if download else ''}{name}"


def thumb_path(team_id: str, file_id: str, size: int) -> str:
    return f"{THUMB_PREFIX}{team_id}-{file_id}/{size}.png"


def team_of(path: str) -> str | None:
    """The workspace id a file path names (None when it names none: the request is refused)."""
    for prefix, sep in ((UPLOAD_PREFIX, "."), (DOWNLOAD_PREFIX, "-"), (THUMB_PREFIX, "-")):
        if path.startswith(prefix):
            team = path[len(prefix) :].split("/", 1)[0].split(sep, 1)[0]
            return team if _TEAM.fullmatch(team) else None
    return None
