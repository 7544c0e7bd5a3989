"""``/api/<method>``: the edge's Web API, a thin starlette adapter over :mod:`wire.http`.

Slack's conventions (arguments, the token, answers and statuses) are the wire contract's; this
module moves bytes between starlette and those functions. Methods the edge holds
(:data:`flannel.methods.LOCAL`) are answered from memory; ``rtm.connect`` by the edge for itself;
every other method is forwarded to the origin and its answer passed back verbatim. Every call,
local or forwarded, spends the origin's per-token tier (:mod:`wire.ratelimit`); a read from
memory waits for the caller's own last write first (:mod:`flannel.writes`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from flannel.edge import Edge
from flannel.methods import LOCAL, Who, answer
from flannel.metrics import EdgeMetrics
from flannel.origin_client import OriginError
from flannel.read_methods import READ_BODIES
from flannel.writes import asked_after, user_key
from wire import http
from wire.args import Args
from wire.errors import RateLimited, SlackError
from wire.offsets import parse_offset
from wire.ratelimit import tier_of
from wire.tickets import issue
from wire.tokens import token_hash

log = logging.getLogger("flannel.edge")


_CONTENT_TYPE = (b"content-type", http.JSON_TYPE.encode())


class JsonBytes(Response):
    """A JSON body that is already bytes (orjson's), answered as is: a plain Response whose
    headers are built directly, not parsed back from a mapping and re-encoded."""

    media_type = http.JSON_TYPE

    def __init__(self, body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        raw = [(b"content-length", b"%d" % len(body)), _CONTENT_TYPE]
        if headers:
            raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        self.raw_headers = raw


def ok(result: dict[str, Any]) -> Response:
    return JsonBytes(http.ok_body(result))


def failed(exc: SlackError) -> Response:
    body, status, headers = http.error_answer(exc)
    return JsonBytes(body, status, headers)


_WANTED = frozenset({b"authorization", b"content-type", http.AFTER_HEADER.encode()})


def wanted_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The request headers this adapter reads (token, content type, ``x-flannel-after``), in
    one pass over the raw list; as starlette's ``Headers.get``: the first of a repeated name,
    names lowercased (ASGI servers send them so), values latin-1."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.lower()
        if name in _WANTED:
            key = name.decode("latin-1")
            if key not in out:
                out[key] = raw_value.decode("latin-1")
    return out


async def read_args(request: Request, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every argument of the request (query string, then the body's fields over it)."""
    if headers is None:
        headers = wanted_headers(request.scope)
    method = request.scope["method"]
    body = await http.read_body(request.stream()) if method == "POST" else b""
    query = request.scope.get("query_string", b"")
    try:
        return http.parse_args(method, query, headers.get("content-type", ""), body)
    except (ValueError, LookupError):  # a body the parser chokes on is still just a bad form
        raise SlackError("invalid_form_data", "malformed body") from None


async def api(request: Request) -> Response:
    name = request.path_params["method"]
    metrics: EdgeMetrics = request.state.metrics
    started = time.perf_counter()
    response, error, recognized = await _dispatch(request.state.edge, request, name)
    metrics.observe(name, error, time.perf_counter() - started, recognized)
    return response


async def _dispatch(edge: Edge, request: Request, name: str) -> tuple[Response, str | None, bool]:
    """The answer, its error code, and whether the origin answered ``name`` as its own method."""
    try:
        headers = wanted_headers(request.scope)
        values = await read_args(request, headers)
        token = http.bearer(headers.get("authorization"), values)
        if name == "rtm.connect":
            return ok(await rtm_connect(edge, token, values)), None, False
        local = LOCAL.get(name)
        if local is None:
            key = token_hash(token) if token else ""
            _limit(edge, key, name)
            return await _forward(edge, name, token, values, key)
        caller = await edge.authenticate(token)  # hashes the token once, for both of us
        _limit(edge, caller.token_hash, name)
        if name == "auth.test":
            await edge.user_of(caller.team_id, caller.user_id)
        keys = (caller.token_hash, user_key(caller.team_id, caller.user_id))
        ws = await edge.fresh(caller.team_id, keys, asked_after(headers))
        if ws is None:  # still behind the caller's own write: the origin answers
            return await _forward(edge, name, token, values, caller.token_hash)
        who = Who(caller.team_id, caller.user_id)
        body_of = READ_BODIES.get(name)
        if body_of is not None:  # answered as bytes kept with the answer (flannel.read_methods)
            return JsonBytes(body_of(ws, who, Args(values))), None, False
        result = answer(local, ws, who, Args(values))
    except SlackError as exc:
        return failed(exc), exc.code, False
    except OriginError as exc:
        return failed(SlackError(exc.code, exc.detail, 502)), exc.code, False
    except ClientDisconnect:
        log.debug("client hung up during %s", name)  # nobody is left to answer
        return Response(status_code=400), "client_disconnected", False
    except Exception:
        log.exception("edge method %s failed", name)
        return JsonBytes(http.INTERNAL_ERROR, 500), "internal_error", False
    return ok(result), None, False


def _limit(edge: Edge, key: str, name: str) -> None:
    """The origin's per-token tiers, here too: an answer from memory is still a call."""
    wait = edge.limits.check(key, tier_of(name)) if key else 0
    if wait:
        raise RateLimited(wait, f"retry after {wait}s")


async def _forward(
    edge: Edge, name: str, token: str | None, values: dict[str, Any], key: str
) -> tuple[Response, str | None, bool]:
    """``name`` answered by the origin, verbatim; the offset a write committed is noted for
    the caller's next read and passed on (``x-flannel-offset``, for the router)."""
    forwarded = await edge.origin.forward(name, token, values)
    edge.writes.note(key, forwarded.offset)
    headers: dict[str, str] = {}
    if forwarded.retry_after:
        headers["Retry-After"] = forwarded.retry_after
    if forwarded.offset:
        headers[http.OFFSET_HEADER] = str(forwarded.offset)
    error = None if b'"ok":true' in forwarded.body[:20] else _error_of(forwarded.body)
    response = JsonBytes(forwarded.body, forwarded.status, headers)
    return response, error, forwarded.status < 500 and error != "unknown_method"


def _error_of(body: bytes) -> str | None:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "origin_error"
    return str(decoded.get("error")) if isinstance(decoded, dict) and not decoded.get("ok") else None


async def rtm_connect(edge: Edge, token: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """Slack's ``rtm.connect`` answered by this edge for itself (the router does it for a
    fleet): the URL carries a short-lived, single-use signed ticket."""
    if edge.draining:
        raise SlackError("service_unavailable", "this edge is draining", 503)
    caller = await edge.authenticate(token)
    resume_from = parse_offset(values.get("resume_from"))
    me = await edge.user_of(caller.team_id, caller.user_id)
    if me is None or me.get("deleted"):
        raise SlackError("account_inactive" if me else "user_not_found")
    ws = await edge.cache.get(caller.team_id)
    settings = edge.settings
    ticket = issue(
        settings.secret,
        caller.user_id,
        caller.team_id,
        settings.edge_id,
        resume_from=resume_from,
        token_hash=caller.token_hash,
    )
    team = ws.team
    return {
        "url": f"{settings.ws_url}?ticket={ticket}",
        "self": {"id": me["id"], "name": me["name"]},
        "team": {"id": team["id"], "name": team.get("name"), "domain": team.get("domain")},
        "api_url": f"{settings.http_url}/api/",
    }
