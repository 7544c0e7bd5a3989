"""The HTTP transport: parse a Slack-style request, authenticate, rate-limit, dispatch.

GET query strings, POST forms and POST JSON bodies are all accepted (a parameterless POST
may arrive as ``application/json`` with an empty body); the token comes as
``Authorization: Bearer`` or as a ``token`` argument.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from origin.api.ratelimit import RateLimiter
from origin.api.registry import Context, Method
from origin.service.auth import Caller, authenticate, authenticate_as
from origin.store.shards import Store
from wire.args import Args
from wire.errors import RateLimited, SlackError

MAX_BODY = 1_000_000
SERVICE_HEADER = "x-flannel-service-secret"
ACTING_HEADER = "x-flannel-as-user"
log = logging.getLogger("flannel.origin.api")


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_response(exc: SlackError) -> Response:
    body: dict[str, Any] = {"ok": False, "error": exc.code}
    if exc.detail:
        body["detail"] = exc.detail
        body["response_metadata"] = {"messages": [f"[ERROR] {exc.detail}"]}
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return json_response(body, exc.status, headers)


async def read_args(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return values
    body = await request.body()
    if len(body) > MAX_BODY:
        raise SlackError("request_too_large", f"bodies are at most {MAX_BODY} bytes", 413)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        if body.strip():
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise SlackError("invalid_json", f"malformed JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise SlackError("invalid_json", "the JSON body must be an object")
            values.update(data)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        values.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif body.strip():
        raise SlackError("invalid_form_data", f"unsupported content type {ctype!r}")
    return values


def bearer(request: Request, values: dict[str, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = values.pop("token", None)
    return token if isinstance(token, str) and token else None


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
    ) -> None:
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
            raise SlackError("invalid_auth", "x-flannel-as-user is TEAM:USER")
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
                raise SlackError("unknown_method", f"{name} is not a method here", 404)
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
            ctx = Context(self.store, caller, token, self.base_url)
            result = await method.handler(ctx, Args(values))
        except SlackError as exc:
            return error_response(exc), exc.code
        except Exception:
            log.exception("method %s failed", name)
            return json_response({"ok": False, "error": "internal_error"}, 500), "internal_error"
        return json_response({"ok": True, **result}), None
