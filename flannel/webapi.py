"""``/api/<method>``: the edge's Web API, a thin ASGI adapter over :mod:`wire.http`.

Slack's conventions (arguments, the token, answers and statuses) are the wire contract's; this
module moves bytes between the ASGI server and those functions: :class:`WebApi` as a bare ASGI
app (what :class:`flannel.app.EdgeApp` calls), :func:`api` as the Starlette route's endpoint,
both over :func:`dispatch`. Methods the edge holds (:data:`flannel.methods.LOCAL`) are answered
from memory; ``rtm.connect`` by the edge for itself; every other method is forwarded to the
origin and its answer passed back verbatim. Every call, local or forwarded, spends the origin's
per-token tier (:mod:`wire.ratelimit`); a read from memory waits for the caller's own last write
first (:mod:`flannel.writes`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from flannel.auth import EdgeCaller
from flannel.cache import Workspace
from flannel.edge import Edge, caller_keys
from flannel.methods import BODIES, LOCAL, Who, answer, answer_body
from flannel.metrics import EdgeMetrics
from flannel.origin_client import Forwarded, OriginError
from flannel.read_methods import HISTORY, history
from flannel.writes import asked_after
from wire import http
from wire.args import Args
from wire.errors import RateLimited, SlackError
from wire.offsets import parse_offset
from wire.ratelimit import tier_of
from wire.tickets import issue
from wire.tokens import token_hash

log = logging.getLogger("flannel.edge")


_CONTENT_TYPE = (b"content-type", http.JSON_TYPE.encode())
_NO_BODY = (b"content-length", b"0")
_AFTER = http.AFTER_HEADER
Header = tuple[bytes, bytes]
#: What a call is answered with: body, status, extra headers (raw), the error code and whether
#: the origin answered the name as its own method (for the metric label).
Answer = tuple[bytes, int, list[Header], str | None, bool]
#: A client that hung up mid-body: nobody reads it, Starlette's bare 400.
_HUNG_UP: Answer = (b"", 400, [], "client_disconnected", False)
#: No extra headers (shared: an answer's header list is only read).
_NONE: list[Header] = []


def raw_headers(headers: Mapping[str, str]) -> list[Header]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def json_headers(body: bytes, extra: list[Header]) -> list[Header]:
    """A JSON answer's headers, as Starlette's Response would send them."""
    return [(b"content-length", b"%d" % len(body)), _CONTENT_TYPE, *extra]


def answer_headers(answer: Answer) -> list[Header]:
    """The headers an :data:`Answer` is sent with (a hang-up's bare 400: no body, no type)."""
    body, _, extra, error, _ = answer
    if error == "client_disconnected":
        return [_NO_BODY]
    return json_headers(body, extra)


def _failed(exc: SlackError) -> Answer:
    body, status, headers = http.error_answer(exc)
    return body, status, raw_headers(headers) if headers else [], exc.code, False


_WANTED = frozenset({b"authorization", b"content-type", http.AFTER_HEADER.encode()})


def wanted_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The request headers this adapter reads (token, content type, ``x-flannel-after``), in
    one pass over the raw list; as starlette's ``Headers.get``: the first of a repeated name,
    names lowercased (ASGI servers send them so), values latin-1."""
    return header_values(scope.get("headers", ()))


def header_values(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """:func:`wanted_headers` from the raw header list itself (the HTTP protocol's quick path
    has no scope)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.lower()
        if name in _WANTED:
            key = name.decode("latin-1")
            if key not in out:
                out[key] = raw_value.decode("latin-1")
    return out


async def receive_body(receive: Receive, limit: int = http.MAX_BODY) -> bytes:
    """The request body from ASGI ``http.request`` messages, as starlette's ``Request.stream``
    gives it (a hang-up is :class:`ClientDisconnect`), refused as ``request_too_large`` as soon
    as it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise SlackError("request_too_large", f"bodies are at most {limit} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


async def read_args(
    scope: Mapping[str, Any], receive: Receive, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every argument of the request (query string, then the body's fields over it)."""
    if headers is None:
        headers = wanted_headers(scope)
    method = scope["method"]
    body = await receive_body(receive) if method == "POST" else b""
    return form_args(method, scope.get("query_string", b""), headers, body)


def form_args(method: str, query: bytes, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """:func:`read_args`'s answer once the body is here (the query string, then the body's
    fields over it)."""
    try:
        return http.parse_args(method, query, headers.get("content-type", ""), body)
    except (ValueError, LookupError):  # a body the parser chokes on is still just a bad form
        raise SlackError("invalid_form_data", "malformed body") from None


def query_args(scope: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a request with no body to read (a GET): :func:`read_args`'s answer,
    from the query string alone, without a coroutine."""
    return http.parse_query(scope.get("query_string", b""))


async def api(request: Request) -> Response:
    """``/api/<method>`` as a Starlette endpoint (the way in when middleware is added to the
    app; :class:`WebApi` serves the same answers without Starlette otherwise)."""
    name = request.path_params["method"]
    metrics: EdgeMetrics = request.state.metrics
    started = time.perf_counter()
    answered = await dispatch(request.state.edge, request.scope, request.receive, name)
    metrics.observe(name, answered[3], time.perf_counter() - started, answered[4])
    response = Response(answered[0], answered[1])
    response.raw_headers = answer_headers(answered)
    return response


class WebApi:
    """``/api/<method>`` as a bare ASGI app over one edge: the arguments parsed from the query
    string and body directly, the answer written as two ASGI messages of bytes. The same
    answers as :func:`api` (both call :func:`dispatch`), without Starlette's routing,
    ``Request`` and ``Response`` objects per call."""

    __slots__ = ("edge", "metrics")

    def __init__(self, edge: Edge, metrics: EdgeMetrics) -> None:
        self.edge = edge
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        started = perf_counter()
        body, status, extra, error, recognized = await dispatch(self.edge, scope, receive, name)
        self.metrics.observe(name, error, perf_counter() - started, recognized)
        if error == "client_disconnected":
            headers = [_NO_BODY]
        elif extra:
            headers = [(b"content-length", b"%d" % len(body)), _CONTENT_TYPE, *extra]
        else:
            headers = [(b"content-length", b"%d" % len(body)), _CONTENT_TYPE]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def dispatch(edge: Edge, scope: Scope, receive: Receive, name: str) -> Answer:
    """The answer to a call of ``name``: its body, status, headers, error code, and whether the
    origin answered ``name`` as its own method.

    A call the edge answers from memory takes no coroutine of its own when it need not wait:
    the token's cached check (:meth:`Edge.known_caller`) and the loaded, caught-up workspace
    (:meth:`Edge.fresh_now`) are read directly, and only a miss awaits (a token to ask the
    origin about, a workspace to load, a write of the caller's still on its way)."""
    try:
        headers = wanted_headers(scope)
        if scope["method"] == "POST":
            values = await read_args(scope, receive, headers)
        else:
            values = query_args(scope)
        token = http.bearer(headers.get("authorization"), values)
        if name == "rtm.connect":
            return http.ok_body(await rtm_connect(edge, token, values)), 200, _NONE, None, False
        local = LOCAL.get(name)
        if local is None:
            key = token_hash(token) if token else ""
            _limit(edge, key, name)
            if name == HISTORY:  # a channel's latest page may be kept here (flannel.read_methods)
                return await _history(edge, token, values, key, asked_after(headers))
            return await _forward(edge, name, token, values, key)
        caller = edge.known_caller(token)
        if caller is None:
            caller = await edge.authenticate(token)  # hashes the token once, for both of us
        _limit(edge, caller.token_hash, name)
        if name == "auth.test":
            await edge.user_of(caller.team_id, caller.user_id)
        after = headers.get(_AFTER)
        ws = edge.fresh_now(caller, asked_after(headers) if after else 0)
        if ws is None:
            ws = await edge.fresh(caller.team_id, caller_keys(caller), asked_after(headers))
            if ws is None:  # still behind the caller's own write: the origin answers
                return await _forward(edge, name, token, values, caller.token_hash)
        return _from_memory(name, local, ws, caller, values)
    except SlackError as exc:
        return _failed(exc)
    except OriginError as exc:
        return _failed(SlackError(exc.code, exc.detail, 502))
    except ClientDisconnect:
        log.debug("client hung up during %s", name)  # nobody is left to answer
        return _HUNG_UP
    except Exception:
        log.exception("edge method %s failed", name)
        return http.INTERNAL_ERROR, 500, [], "internal_error", False


def _from_memory(name: str, local: Any, ws: Workspace, caller: EdgeCaller, values: dict[str, Any]) -> Answer:
    """A method the edge holds, answered from ``ws`` for ``caller`` (a Slack error raises)."""
    who = Who(caller.team_id, caller.user_id)
    body_of = BODIES.get(name)
    if body_of is not None:  # answered as bytes (each user's JSON kept: flannel.methods)
        return answer_body(body_of, ws, who, Args(values)), 200, _NONE, None, False
    return http.ok_body(answer(local, ws, who, Args(values))), 200, _NONE, None, False


def answer_now(edge: Edge, name: str, values: dict[str, Any], headers: Mapping[str, str]) -> Answer | None:
    """:func:`dispatch`'s answer to a call of a method the edge holds, when it needs no
    await (the token's check cached, the workspace loaded and caught up with the call's
    ``x-flannel-after`` and the caller's own writes), from the arguments already parsed;
    None when :func:`dispatch` must await, and then nothing has changed: every condition is
    looked at first, without counting, and only then are dispatch's own steps taken (the
    token's hit counted, the rate-limit tier spent, the workspace's hit counted), none of
    which can wait now. So a caller that falls back to :func:`dispatch` counts nothing twice.
    ``rtm.connect``, ``auth.test`` (it may wait for a brand-new user) and forwarded methods
    are always None."""
    local = LOCAL.get(name)
    if local is None or name == "auth.test":
        return None
    try:
        token = http.bearer(headers.get("authorization"), values)
        caller = edge.known_caller(token, count=False)
        if caller is None:
            return None
        after = asked_after(headers) if headers.get(_AFTER) else 0
        if edge.fresh_now(caller, after, count=False) is None:
            return None
        edge.auth.hits += 1  # from here dispatch's steps (none can wait): the token's hit first
        _limit(edge, caller.token_hash, name)
        ws = edge.fresh_now(caller, after)
        if ws is None:  # cannot be: nothing ran since the look above
            raise RuntimeError("the workspace went away within one call")
        return _from_memory(name, local, ws, caller, values)
    except SlackError as exc:
        return _failed(exc)
    except Exception:
        log.exception("edge method %s failed", name)
        return http.INTERNAL_ERROR, 500, [], "internal_error", False


def _limit(edge: Edge, key: str, name: str) -> None:
    """The origin's per-token tiers, here too: an answer from memory is still a call."""
    wait = edge.limits.check(key, tier_of(name)) if key else 0
    if wait:
        raise RateLimited(wait, f"retry after {wait}s")


async def _forward(edge: Edge, name: str, token: str | None, values: dict[str, Any], key: str) -> Answer:
    """``name`` answered by the origin, verbatim; the offset a write committed is noted for
    the caller's next read and passed on (``x-flannel-offset``, for the router)."""
    forwarded = await edge.origin.forward(name, token, values)
    if forwarded.offset is None and key:  # a group-committed write says no offset: see HistoryCache
        edge.history.wrote(key, name, time.monotonic())
    return _passed(edge, forwarded, key)


async def _history(edge: Edge, token: str | None, values: dict[str, Any], key: str, after: int) -> Answer:
    """``conversations.history``: from the edge's history cache for a reader it lets see the
    channel (:func:`flannel.read_methods.history`), else the origin's answer (then kept)."""
    caller = edge.known_caller(token) or await edge.authenticate(token)
    ws = await edge.fresh(caller.team_id, caller_keys(caller), after)

    async def fetch() -> Forwarded:
        return await edge.origin.forward(HISTORY, token, values)

    got = await history(edge.history, ws, caller.user_id, caller_keys(caller), values, fetch)
    if isinstance(got, dict):
        return http.ok_body(got), 200, _NONE, None, False
    return _passed(edge, got, key)


def _passed(edge: Edge, forwarded: Forwarded, key: str) -> Answer:
    """The origin's answer as an :data:`Answer`, verbatim (see :func:`_forward`)."""
    edge.writes.note(key, forwarded.offset)
    headers: list[Header] = []
    if forwarded.retry_after:
        headers.append((b"retry-after", forwarded.retry_after.encode("latin-1")))
    if forwarded.offset:
        headers.append((_OFFSET, b"%d" % forwarded.offset))
    error = None if b'"ok":true' in forwarded.body[:20] else _error_of(forwarded.body)
    return (
        forwarded.body,
        forwarded.status,
        headers,
        error,
        forwarded.status < 500 and error != "unknown_method",
    )


_OFFSET = http.OFFSET_HEADER.encode()


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
