"""The edge's way for file bytes: uploads and downloads streamed to and from the origin.

A file is never held here: the request body goes to the origin chunk by chunk as it arrives
(with the client's ``Content-Length``, so the origin can refuse an oversized body before it
reads it), and the origin's answer comes back the same way. Only the headers in
:mod:`wire.files` cross; the origin decides everything (who may read, the limits).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from wire.files import ANSWER_HEADERS, DOWNLOAD_PREFIX, REQUEST_HEADERS, THUMB_PREFIX, UPLOAD_PREFIX

log = logging.getLogger("flannel.edge.files")
Handler = Callable[[Request], Awaitable[Response]]
UNREACHABLE = b'{"ok":false,"error":"service_unavailable","detail":"the origin did not answer"}'


def passed_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: headers[name] for name in ANSWER_HEADERS if name in headers}


def is_multipart_upload(request: Request) -> bool:
    return request.path_params.get("method") == "files.upload" and request.headers.get(
        "content-type", ""
    ).lower().startswith("multipart/form-data")


class FilesProxy:
    """Streams file requests to ``origin_url`` (``transport``: httpx's, for tests)."""

    def __init__(
        self, origin_url: str, transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 300.0
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=origin_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def handle(self, request: Request) -> Response:
        headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
        body = request.stream() if request.method in ("POST", "PUT") else None
        query = request.scope.get("query_string", b"").decode("latin-1")
        target = request.url.path + (f"?{query}" if query else "")
        outgoing = self._http.build_request(request.method, target, headers=headers, content=body)
        try:
            answer = await self._http.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            log.warning("file request to the origin failed: %r", exc)
            return Response(UNREACHABLE, 503, media_type="application/json")
        return StreamingResponse(
            answer.aiter_raw(),
            answer.status_code,
            passed_headers(answer.headers),
            background=BackgroundTask(answer.aclose),
        )

    def with_uploads(self, api: Handler) -> Handler:
        """``api``, except that a multipart ``files.upload`` is streamed to the origin."""

        async def handler(request: Request) -> Response:
            if is_multipart_upload(request):
                return await self.handle(request)
            return await api(request)

        return handler

    def routes(self) -> list[Route]:
        return [
            Route(UPLOAD_PREFIX + "{token}", self.handle, methods=["POST", "PUT"]),
            Route(DOWNLOAD_PREFIX + "{ref}/{rest:path}", self.handle, methods=["GET", "HEAD"]),
            Route(THUMB_PREFIX + "{ref}/{name}", self.handle, methods=["GET"]),
        ]
