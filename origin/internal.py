"""Internal endpoints for other Flannel services, authenticated with the shared secret."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from origin.api.http import error_response
from origin.snapshot.stream import pages
from origin.store.shards import Store
from wire.errors import SlackError
from wire.http import SERVICE_HEADER


def check_service(request: Request, secret: str) -> None:
    """The caller is a Flannel service: it sent the shared secret (401 otherwise)."""
    given = request.headers.get(SERVICE_HEADER, "")
    if not given:
        raise SlackError("not_authed", "service secret required", 401)
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise SlackError("invalid_auth", "wrong service secret", 401)


class SnapshotEndpoint:
    """``GET /internal/snapshot/{team_id}``: NDJSON pages of one consistent snapshot."""

    def __init__(self, store: Store, secret: str, on_served: Callable[[], None] | None = None) -> None:
        self.store = store
        self.secret = secret
        self.served = 0
        self.on_served = on_served

    async def __call__(self, request: Request) -> Response:
        team_id = request.path_params["team_id"]
        try:
            check_service(request, self.secret)
            await self.store.shard_of(team_id)
        except SlackError as exc:
            return error_response(exc)
        self.served += 1
        if self.on_served is not None:
            self.on_served()
        return StreamingResponse(self._lines(team_id), media_type="application/x-ndjson")

    async def _lines(self, team_id: str) -> AsyncIterator[bytes]:
        async for page in pages(self.store, team_id):
            yield orjson.dumps(page) + b"\n"
