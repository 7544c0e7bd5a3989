"""The router's way for file bytes: uploads and downloads streamed to the workspace's edge.

File URLs lead with the workspace id (:mod:`wire.files`), so the router places them on the
edge that a connection of that workspace would be placed on, without a token check; the legacy
multipart ``files.upload`` is placed by its token. The body is streamed to the edge as it
arrives and the edge's answer streamed back: nothing here holds a file. A download the
chosen edge cannot take (the connection was refused) goes to the next choice; an upload,
whose body cannot be sent twice, does not.
"""

from __future__ import annotations

import logging

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from router.service import Router
from wire.errors import SlackError
from wire.files import ANSWER_HEADERS, REQUEST_HEADERS, team_of
from wire.http import bearer

log = logging.getLogger("flannel.router.files")
NOT_FOUND = b'{"ok":false,"error":"file_not_found"}'
MAX_ATTEMPTS = 3


def is_multipart_upload(name: str, request: Request) -> bool:
    return name == "files.upload" and request.headers.get("content-type", "").lower().startswith(
        "multipart/form-data"
    )


class FilesProxy:
    def __init__(
        self, router: Router, transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 300.0
    ) -> None:
        self.router = router
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=2.0), transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def _team(self, request: Request) -> str | None:
        team = team_of(request.url.path)
        if team is not None:
            return team
        who = await self.router.tokens.check(bearer(request.headers.get("authorization"), {}))
        return who.team_id

    async def __call__(self, request: Request, region: str) -> Response:
        try:
            team = await self._team(request)
        except SlackError as exc:
            return Response(f'{{"ok":false,"error":"{exc.code}"}}'.encode(), media_type="application/json")
        if team is None:
            return Response(NOT_FOUND, 404, media_type="application/json")
        headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
        streamed = request.method in ("POST", "PUT")
        query = request.scope.get("query_string", b"").decode("latin-1")
        path = request.url.path + (f"?{query}" if query else "")
        avoid: set[str] = set()
        for _ in range(1 if streamed else MAX_ATTEMPTS):
            try:
                record = await self.router.edge_for(team, region, frozenset(avoid))
            except SlackError as exc:
                return Response(f'{{"ok":false,"error":"{exc.code}"}}'.encode(), exc.status)
            outgoing = self._http.build_request(
                request.method,
                record.http_url + path,
                headers=headers,
                content=request.stream() if streamed else None,
            )
            try:
                answer = await self._http.send(outgoing, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self.router.report(record.id, f"files:{team}")
                avoid.add(record.id)
                log.warning("edge %s refused a file request: %r", record.id, exc)
                continue
            except httpx.HTTPError as exc:
                log.warning("edge %s failed a file request: %r", record.id, exc)
                break
            passed = {name: answer.headers[name] for name in ANSWER_HEADERS if name in answer.headers}
            return StreamingResponse(
                answer.aiter_raw(), answer.status_code, passed, background=BackgroundTask(answer.aclose)
            )
        body = b'{"ok":false,"error":"service_unavailable","detail":"no edge took the file request"}'
        return Response(body, 503, media_type="application/json")
