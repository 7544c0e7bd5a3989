"""The origin's HTTP transport: a thin starlette adapter over :mod:`wire.http`.

Slack's conventions (where arguments and the token come from, the body limits, the shapes
and statuses of answers) are decided once in :mod:`wire.http`; this module only moves bytes
between starlette and those functions, then authenticates, rate-limits and dispatches to the
method registry. Every Slack error is answered with HTTP 200, rate limits with 429 and
``Retry-After``; a crash is a 500 ``internal_error``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from origin.api.ratelimit import RateLimiter
from origin.api.registry import Context, Method
from origin.service.auth import Caller, authenticate, authenticate_as
from origin.store.db import Database
from origin.store.group import Batcher, GroupCommit, Item, Result
from origin.store.shards import Store, WriteTx
from origin.transfer.jobs import Transfers
from wire import http
from wire.args import Args
from wire.errors import RateLimited, SlackError
from wire.http import ACTING_HEADER, OFFSET_HEADER, SERVICE_HEADER

__all__ = [
    "ACTING_HEADER",
    "SERVICE_HEADER",
    "ApiEndpoint",
    "bearer",
    "error_response",
    "json_response",
    "read_args",
]

log = logging.getLogger("flannel.origin.api")


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(exc: SlackError) -> Response:
    body, status, headers = http.error_answer(exc)
    return Response(body, status, headers, media_type=http.JSON_TYPE)


async def read_args(request: Request) -> dict[str, Any]:
    """Every argument of the request (query string, then the body's fields over it)."""
    body = await http.read_body(request.stream()) if request.method == "POST" else b""
    return http.parse_args(
        request.method, request.scope.get("query_string", b""), request.headers.get("content-type", ""), body
    )


def bearer(request: Request, values: dict[str, Any]) -> str | None:
    """The token (``Authorization: Bearer`` first, else the ``token`` argument, removed)."""
    return http.bearer(request.headers.get("authorization"), values)


class CommittedOffset:
    """The store as one call sees it, noting the last change-log offset its writes committed:
    answered as ``x-flannel-offset``, so an edge can wait until its copy has applied the
    caller's own write before answering the caller's next read (read-your-writes)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.offset = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @asynccontextmanager
    async def write(self, team_id: str) -> AsyncIterator[WriteTx]:
        async with self._store.write(team_id) as tx:
            yield tx
        if tx.events:  # committed
            self.note(int(tx.events[-1]["offset"]))

    @property
    def group_commit(self) -> _NotingGroupCommit:
        """The store's group commit, noting the offsets its jobs (posts, edits) committed."""
        return _NotingGroupCommit(self._store.group_commit, self.note)

    def note(self, offset: int) -> None:
        self.offset = max(self.offset, offset)


class _NotingGroupCommit:
    """:class:`origin.store.group.GroupCommit` as one call sees it (see :class:`CommittedOffset`)."""

    def __init__(self, real: GroupCommit, note: Callable[[int], None]) -> None:
        self._real = real
        self._note = note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def submit(self, db: Database, team_id: str, batcher: Batcher[Item, Result], item: Item) -> Result:
        return await self._real.submit(db, team_id, batcher, item, noted=self._note)


class ApiEndpoint:
    """``/api/{method}``: every Web API method through one door."""

    def __init__(
        self,
        store: Store,
        methods: dict[str, Method],
        limiter: RateLimiter,
        base_url: str,
        secret: str | None = None,
        observe: Callable[[str, str | None, float], None] | None = None,
        transfers: Transfers | None = None,
        files: Any = None,
    ) -> None:
        self.files = files
        self.transfers = transfers
        self.observe = observe
        self.secret = secret
        self.store = store
        self.methods = methods
        self.limiter = limiter
        self.base_url = base_url

    async def _service_caller(self, request: Request, acting: str) -> Caller:
        """``x-flannel-as-user: T:U`` with the service secret: an edge acting for its user."""
        given = request.headers.get(SERVICE_HEADER, "")
        assert self.secret is not None
        if not given or not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise SlackError("invalid_auth", "wrong service secret")
        team_id, _, user_id = acting.partition(":")
        if not team_id or not user_id:
            raise SlackError("invalid_auth", f"{ACTING_HEADER} is TEAM:USER")
        return await authenticate_as(self.store, team_id, user_id)

    async def __call__(self, request: Request) -> Response:
        name = request.path_params["method"]
        started = time.perf_counter()
        response, error = await self._dispatch(request, name)
        if self.observe is not None:
            self.observe(name if name in self.methods else "unknown", error, time.perf_counter() - started)
        return response

    async def _dispatch(self, request: Request, name: str) -> tuple[Response, str | None]:
        try:
            method = self.methods.get(name)
            if method is None:
                raise SlackError("unknown_method", f"{name} is not a method here")
            values = await read_args(request)
            acting = request.headers.get(ACTING_HEADER)
            if acting and self.secret is not None:
                caller = await self._service_caller(request, acting)
                token = ""
            else:
                given = bearer(request, values)
                caller = await authenticate(self.store, given)
                assert given is not None
                token = given
            wait = self.limiter.check(caller.token_hash, method.tier)
            if wait:
                raise RateLimited(wait)
            committed = CommittedOffset(self.store)
            ctx = Context(cast(Store, committed), caller, token, self.base_url, self.transfers, self.files)
            result = await method.handler(ctx, Args(values))
        except SlackError as exc:
            return error_response(exc), exc.code
        except ClientDisconnect:
            log.debug("client hung up during %s", name)  # nobody is left to answer
            return Response(status_code=400), "client_disconnected"
        except Exception:
            log.exception("method %s failed", name)
            return Response(http.INTERNAL_ERROR, 500, media_type=http.JSON_TYPE), "internal_error"
        headers = {OFFSET_HEADER: str(committed.offset)} if committed.offset else None
        return Response(http.ok_body(result), headers=headers, media_type=http.JSON_TYPE), None
