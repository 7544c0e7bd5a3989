"""The origin's file endpoints, outside the method registry because their bodies are bytes
that must stream: the upload URL, the legacy ``files.upload``, downloads and thumbnails.

Downloads (``url_private``) need the caller's token (``Authorization: Bearer``) and the right
to see the file (:meth:`Files.visible_file`); every refusal, a missing token included, is the
same 404 with no hint that the file exists. A file is served with the type its name says,
``X-Content-Type-Options: nosniff``, a sandboxing CSP, and as an attachment unless it is a
safe image (``url_private_download`` is always an attachment). One byte range is honoured.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from origin.api.http import bearer, error_response, json_response
from origin.api.ratelimit import RateLimiter
from origin.files.objects import SAFE_IMAGES, FileRow
from origin.files.service import Files, UploadRefused, once
from origin.files.storage import Blob, TooLarge
from origin.files.streams import MultipartReader, boundary_of
from origin.service.auth import Caller, authenticate
from wire import http
from wire.args import Args
from wire.errors import RateLimited, SlackError
from wire.ratelimit import METHOD_TIERS

log = logging.getLogger("flannel.origin.files")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
NOT_FOUND = b'{"ok":false,"error":"file_not_found"}'


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """One ``bytes=a-b`` range of a ``size``-byte file as (start, end) inclusive; None when
    there is none (or several: the whole file then); False when it cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or end < start:
        return False
    return start, end


def disposition(name: str, inline: bool) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def served_headers(f: FileRow, download: bool) -> dict[str, str]:
    inline = not download and f.mimetype in SAFE_IMAGES
    return {
        "content-type": f.mimetype,
        "content-disposition": disposition(f.name, inline),
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "accept-ranges": "bytes",
        "cache-control": "private, max-age=3600",
        "etag": f'"{f.blob}"',
    }


class FilesEndpoint:
    def __init__(self, files: Files, limiter: RateLimiter) -> None:
        self.files = files
        self.limiter = limiter

    async def _caller(self, token: str | None) -> Caller:
        return await authenticate(self.files.store, token)

    # -- the upload URL ------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > self.files.settings.max_bytes + 1_000_000:
                raise UploadRefused(413, "file_too_large", "over the size limit")
            boundary = boundary_of(request.headers.get("content-type", ""))
            chunks: AsyncIterator[bytes] = request.stream()
            if boundary is not None:
                chunks = _first_file(MultipartReader(request.stream(), boundary))
            size = await self.files.receive(token, chunks)
        except UploadRefused as exc:
            body: dict[str, Any] = {"ok": False, "error": exc.code}
            if exc.detail:
                body["detail"] = exc.detail
            return json_response(body, exc.status)
        except SlackError as exc:
            return json_response({"ok": False, "error": exc.code, "detail": exc.detail}, 400)
        except ClientDisconnect:
            return Response(status_code=400)
        return Response(f"OK - {size}", media_type="text/plain")

    # -- legacy files.upload -------------------------------------------------------------------

    async def legacy_upload(self, request: Request) -> Response:
        blob: Blob | None = None
        try:
            try:
                fields, blob = await self._read_upload(request)
                caller = await self._caller(bearer(request, fields))
                wait = self.limiter.check(caller.token_hash, METHOD_TIERS["files.upload"])
                if wait:
                    raise RateLimited(wait)
                if blob is None:
                    content = fields.get("content")
                    if not isinstance(content, str) or not content:
                        raise SlackError("no_file_data", "send a file part or a content field")
                    blob = await self.files.blobs.put(once(content.encode()), self.files.settings.max_bytes)
                adopted, blob = blob, None
                body = await self.files.legacy(caller, adopted, Args(fields))
            except TooLarge:
                raise SlackError(
                    "file_too_large", f"files are at most {self.files.settings.max_bytes} bytes"
                ) from None
            finally:
                if blob is not None:
                    await self.files.release(blob.key)
        except SlackError as exc:
            return error_response(exc)
        except ClientDisconnect:
            return Response(status_code=400)
        return Response(http.ok_body(body), media_type=http.JSON_TYPE)

    async def _read_upload(self, request: Request) -> tuple[dict[str, Any], Blob | None]:
        """The fields, and the file part's bytes already stored (streamed, limited)."""
        query: bytes = request.scope.get("query_string", b"")
        ctype = request.headers.get("content-type", "")
        boundary = boundary_of(ctype)
        if boundary is None:
            body = await http.read_body(request.stream())
            return http.parse_args("POST", query, ctype, body), None
        fields: dict[str, Any] = http.parse_query(query)
        blob: Blob | None = None
        reader = MultipartReader(request.stream(), boundary)
        try:
            async for part in reader.parts():
                if part.filename is not None or part.name == "file":
                    if blob is None:
                        blob = await self.files.blobs.put(reader.data(), self.files.settings.max_bytes)
                        if part.filename:
                            fields.setdefault("filename", part.filename)
                elif part.name:
                    fields[part.name] = await reader.text()
        except BaseException:
            if blob is not None:
                await self.files.release(blob.key)
            raise
        return fields, blob

    # -- downloads -----------------------------------------------------------------------------

    async def _visible(self, request: Request) -> FileRow | None:
        ref = request.path_params["ref"]
        team_id, _, file_id = ref.partition("-")
        try:
            caller = await self._caller(http.bearer(request.headers.get("authorization"), {}))
            if caller.team_id != team_id or not file_id.isalnum():
                return None
            return await self.files.download(caller, file_id)
        except SlackError:
            return None

    async def download(self, request: Request) -> Response:
        f = await self._visible(request)
        if f is None or f.blob is None:
            return Response(NOT_FOUND, 404, media_type=http.JSON_TYPE)
        rest = request.path_params.get("rest", "")
        headers = served_headers(f, rest.startswith("download/"))
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers={"etag": headers["etag"]})
        wanted = parse_range(request.headers.get("range"), f.size)
        if wanted is False:
            return Response(status_code=416, headers={"content-range": f"bytes */{f.size}", **headers})
        if isinstance(wanted, tuple):
            start, end = wanted
            headers["content-range"] = f"bytes {start}-{end}/{f.size}"
            headers["content-length"] = str(end - start + 1)
            return StreamingResponse(self.files.blobs.read(f.blob, start, end), 206, headers)
        headers["content-length"] = str(f.size)
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers)
        return StreamingResponse(self.files.blobs.read(f.blob), 200, headers)

    async def thumb(self, request: Request) -> Response:
        f = await self._visible(request)
        size = str(request.path_params.get("size", ""))
        thumb = None if f is None else f.thumbs.get("sizes", {}).get(size)
        if thumb is None:
            return Response(NOT_FOUND, 404, media_type=http.JSON_TYPE)
        headers = {
            "content-type": "image/png",
            "x-content-type-options": "nosniff",
            "cache-control": "private, max-age=3600",
            "content-disposition": "inline",
        }
        return StreamingResponse(self.files.blobs.read(str(thumb["key"])), 200, headers)


async def _first_file(reader: MultipartReader) -> AsyncIterator[bytes]:
    """The bytes of a multipart upload's first file part (the other parts are skipped)."""
    async for part in reader.parts():
        if part.filename is not None or part.name in ("file", "filename"):
            async for chunk in reader.data():
                yield chunk
            return
    raise SlackError("no_file_data", "the multipart body has no file part")
