"""The files part of the origin's app: built in the lifespan from :class:`FilesSettings`,
its routes (upload URL, downloads, thumbnails), and the sweeper of abandoned uploads."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from origin.api.ratelimit import RateLimiter
from origin.files.http import NOT_FOUND, FilesEndpoint
from origin.files.service import Files
from origin.files.settings import FilesSettings
from origin.files.storage import open_store
from origin.store.shards import Store
from wire.files import DOWNLOAD_PREFIX, THUMB_PREFIX, UPLOAD_PREFIX

log = logging.getLogger("flannel.origin.files")
SWEEP_EVERY_S = 60.0


def is_streamed_upload(request: Request, method: str) -> bool:
    """A legacy ``files.upload`` whose file comes as a multipart part: streamed, not parsed
    by the method registry (which holds a body in memory)."""
    return method == "files.upload" and request.headers.get("content-type", "").lower().startswith(
        "multipart/form-data"
    )


class FilesApp:
    """Late-bound: the routes exist from the start, the service once the lifespan opened it
    (None when no file store is configured: every file URL is then 404)."""

    def __init__(self) -> None:
        self.files: Files | None = None
        self.endpoint: FilesEndpoint | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def open(
        self, settings: FilesSettings | None, store: Store, limiter: RateLimiter, secret: str, base_url: str
    ) -> Files | None:
        if settings is None or not settings.store_url:
            return None
        blobs = open_store(settings.store_url, settings.s3_endpoint)
        self.files = Files(store, blobs, settings, secret, base_url)
        self.endpoint = FilesEndpoint(self.files, limiter)
        self._sweeper = asyncio.create_task(self._sweep_forever())
        return self.files

    async def _sweep_forever(self) -> None:
        while True:
            try:
                if self.files is not None:
                    await self.files.sweep()
            except Exception:  # a sweep that fails is tried again next time
                log.exception("sweeping abandoned uploads failed")
            await asyncio.sleep(SWEEP_EVERY_S)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self.files is not None:
            await self.files.blobs.close()

    async def upload(self, request: Request) -> Response:
        if self.endpoint is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        return await self.endpoint.upload(request)

    async def legacy_upload(self, request: Request) -> Response:
        if self.endpoint is None:
            return Response(b'{"ok":false,"error":"file_uploads_disabled"}', media_type="application/json")
        return await self.endpoint.legacy_upload(request)

    async def download(self, request: Request) -> Response:
        if self.endpoint is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        return await self.endpoint.download(request)

    async def thumb(self, request: Request) -> Response:
        if self.endpoint is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        return await self.endpoint.thumb(request)

    def routes(self) -> list[Route]:
        return [
            Route(UPLOAD_PREFIX + "{token}", self.upload, methods=["POST", "PUT"]),
            Route(DOWNLOAD_PREFIX + "{ref}/{rest:path}", self.download, methods=["GET", "HEAD"]),
            Route(THUMB_PREFIX + "{ref}/{size:int}.png", self.thumb, methods=["GET"]),
        ]
