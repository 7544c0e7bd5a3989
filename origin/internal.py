"""Internal endpoints for other Flannel services, authenticated with the shared secret."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from origin.api.http import error_response, json_response
from origin.api.methods.auth import auth_test_answer
from origin.api.registry import JSON
from origin.service import teams
from origin.service.auth import authenticate_many
from origin.service.presence import manual_away_many
from origin.snapshot.stream import pages
from origin.store.shards import Store
from wire.errors import SlackError
from wire.http import SERVICE_HEADER
from wire.presence import manual_request
from wire.tokencheck import check_request


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


class TokenCheckEndpoint:
    """``POST /internal/tokens/check``: many tokens checked in one call (see
    :mod:`wire.tokencheck`): each answered exactly as ``auth.test`` would answer it alone.

    For the router and edges facing a reconnect storm: one round trip for hundreds of new
    tokens, not one each, and at the origin one read per workspace for all of its tokens.
    """

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret
        self.calls = 0
        self.tokens = 0

    async def __call__(self, request: Request) -> Response:
        try:
            check_service(request, self.secret)
            try:
                tokens = check_request(orjson.loads(await request.body()))
            except (orjson.JSONDecodeError, ValueError) as exc:
                raise SlackError("invalid_arguments", str(exc)) from None
        except SlackError as exc:
            return error_response(exc)
        self.calls += 1
        self.tokens += len(tokens)
        return json_response({"ok": True, "results": await self.check_all(tokens)})

    async def check_all(self, tokens: list[str]) -> list[dict[str, Any]]:
        """``auth.test``'s answer for each token: one read per workspace for its tokens
        (:func:`authenticate_many`) and one for the workspace itself."""
        checked = await authenticate_many(self.store, tokens)
        teams_of: dict[str, JSON | SlackError] = {}
        out: list[dict[str, Any]] = []
        for result in checked:
            if isinstance(result, SlackError):
                out.append({"ok": False, "error": result.code})
                continue
            team_id = result.caller.team_id
            if team_id not in teams_of:
                try:
                    teams_of[team_id] = await teams.get_team(self.store, team_id)
                except SlackError as exc:
                    teams_of[team_id] = exc
            team = teams_of[team_id]
            if isinstance(team, SlackError):
                out.append({"ok": False, "error": team.code})
            else:
                answer = auth_test_answer(team, result.caller.user_id, result.name, result.is_bot)
                out.append({"ok": True, **answer})
        return out


class ManualAwayEndpoint:
    """``POST /internal/presence/manual`` (:data:`wire.presence.MANUAL_AWAY_PATH`): whether
    each of many users set manual away, in one call: an edge facing a connect storm asks for
    every connecting user's at once, not with one ``users.getPresence`` each."""

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret
        self.calls = 0

    async def __call__(self, request: Request) -> Response:
        try:
            check_service(request, self.secret)
            try:
                pairs = manual_request(orjson.loads(await request.body()))
            except (orjson.JSONDecodeError, ValueError) as exc:
                raise SlackError("invalid_arguments", str(exc)) from None
        except SlackError as exc:
            return error_response(exc)
        self.calls += 1
        return json_response({"ok": True, "away": await manual_away_many(self.store, pairs)})
