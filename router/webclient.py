"""The browser client, served by the router: the one origin a browser talks to.

Why the router: it is already the one base URL (every Web API call a page makes is answered
or forwarded here, :mod:`router.forward`), so the page, its session cookie and its calls share
one origin and no CORS is needed. The page's WebSocket goes to the edge ``rtm.connect`` chose,
as any thin client's does (a WebSocket is not bound by the same-origin rule; its ticket is its
credential).

The session: signing in (``/web/signin``, ``/web/signin/link``) asks the origin for a user
token (:mod:`origin.api.signin`, with the shared secret) and keeps it in an HttpOnly,
SameSite=Strict cookie the page's script never sees. A call authenticated by that cookie must
carry ``x-flannel-csrf``, a value derived from the token with the router's secret
(:func:`csrf_of`) that only a page of this origin can learn (``/web/session``, read with the
same-origin rule); the ``/web/*`` writes also want a JSON body, which a cross-site form cannot
send. Signing out revokes the token at the origin, which closes the page's WebSocket.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from router.origin_calls import call_origin
from router.registry import EdgeRecord
from router.service import Router
from wire.errors import RateLimited, SlackError
from wire.http import JSON_TYPE, SERVICE_HEADER, error_answer, read_body
from wire.tokens import token_hash

STATIC = Path(__file__).resolve().parent / "web"
COOKIE = "flannel_session"
#: The session's CSRF value, readable by the page's script (a double-submit cookie): the page
#: starts without asking ``/web/session`` first. It is no secret from this origin's scripts.
CSRF_COOKIE = "flannel_csrf"
CSRF_HEADER = "x-flannel-csrf"
MAX_BODY = 16 * 1024
#: The page's scripts and styles are its own files; it may open WebSockets to the edges and
#: fetch files from where the origin stores them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "connect-src 'self' ws: wss: http: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: Where the router puts the page's boot script (``web/js/boot.js``) and the socket it opens.
BOOT_SLOT = "<!--flannel-boot-->"
#: The id of the page's boot data block (``web/js/boot.js`` reads it).
BOOT_DATA_ID = "flannel-boot"
#: The channel the page showed last (its id; set by the page's script, so not HttpOnly): the
#: one whose messages the router inlines in the page it serves next (else #general).
CHANNEL_COOKIE = "flannel_channel"
#: How long the page waits for its first screen from the edge before it is served without it.
SCREEN_TIMEOUT_S = 1.0
log = logging.getLogger("flannel.router.web")
_LAG = re.compile(rb"^flannel_edge_log_lag(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)


def boot_csp(nonce: str) -> str:
    """The page's policy, plus the one inline script of this answer (its boot script)."""
    return CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'", 1)


def boot_data(boot: Mapping[str, Any]) -> str:
    """The page's boot data as a JSON data block (``boot.js`` parses it: ``JSON.parse`` of a
    string is cheaper than compiling and running an object literal of that size). Every ``<``
    is escaped, so no text in it (a message's ``</script>`` or ``<!--``) ends or changes the block."""
    data = orjson.dumps(boot).decode().replace("<", "\\u003c")
    return f'<script type="application/json" id="{BOOT_DATA_ID}">{data}</script>'


def csrf_of(secret: str, token: str) -> str:
    """The CSRF value of a session: derived, so the router keeps no state per session."""
    return hmac.new(secret.encode(), b"csrf:" + token_hash(token).encode(), hashlib.sha256).hexdigest()[:40]


def cookie_token(cookies: Mapping[str, str], headers: Mapping[str, str], secret: str) -> str | None:
    """The session token a cookie-authenticated call acts with; None without the cookie;
    ``invalid_csrf`` when the call does not carry the session's CSRF value."""
    token = cookies.get(COOKIE)
    if not token:
        return None
    given = headers.get(CSRF_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), csrf_of(secret, token).encode()):
        raise SlackError(
            "invalid_csrf", f"a call authenticated by the session cookie needs {CSRF_HEADER}", 403
        )
    return token


def session_cookie(
    token: str, secure: bool, max_age: int | None = 30 * 24 * 3600, name: str = COOKIE, http_only: bool = True
) -> str:
    parts = [f"{name}={token}", "Path=/", *(["HttpOnly"] if http_only else []), "SameSite=Strict"]
    if max_age is None:
        parts.append("Max-Age=0")
    else:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def lag_of(metrics_text: bytes) -> int | None:
    found = _LAG.search(metrics_text)
    return int(float(found.group(1))) if found else None


def _json(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, dict(headers or {}), media_type=JSON_TYPE)


def _error(exc: SlackError) -> Response:
    body, status, headers = error_answer(exc)
    return Response(body, status, headers, media_type=JSON_TYPE)


async def _json_body(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise SlackError("invalid_form_data", "send application/json", 415)
    try:
        body = orjson.loads(await read_body(request.stream(), MAX_BODY) or b"{}")
    except orjson.JSONDecodeError:
        raise SlackError("invalid_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise SlackError("invalid_json", "the body must be a JSON object")
    return body


#: The page's own files: fresh for a minute (a new page reuses them without asking: a boot
#: is not held up by five revalidations at a busy router), then revalidated by their ETag;
#: so a new version's scripts are in use at most a minute after it is deployed (``/`` itself
#: is ``no-cache``).
STATIC_CACHE = "public, max-age=60"


class _Static(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = STATIC_CACHE
        return response


class WebClient:
    """The page, its static files, the session endpoints and the operators' dashboard."""

    def __init__(
        self, router: Router, origin_url: str, secret: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.router = router
        self.origin_url = origin_url.rstrip("/")
        self.secret = secret
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0), transport=transport)
        self.index = (STATIC / "index.html").read_text()
        self.boot_js = (STATIC / "js" / "boot.js").read_text()

    async def close(self) -> None:
        await self.http.aclose()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page),
            Route("/dashboard", self.dashboard_page),
            Route("/web/signin", self.signin, methods=["POST"]),
            Route("/web/signin/link", self.signin_link, methods=["POST"]),
            Route("/web/session", self.session),
            Route("/web/signout", self.signout, methods=["POST"]),
            Route("/web/dashboard", self.dashboard),
            Mount("/web/static", _Static(directory=STATIC), name="web"),
        ]

    def token_of(self, request: Request) -> str | None:
        return cookie_token(request.cookies, request.headers, self.secret)

    @staticmethod
    def with_session(request: Request) -> Request:
        """A file download (GET) by the page: ``<img src>`` cannot send a header, so the
        session cookie stands for ``Authorization`` (a cross-site GET never carries a
        SameSite=Strict cookie, and a download changes nothing)."""
        token = request.cookies.get(COOKIE)
        if request.method not in ("GET", "HEAD") or not token or "authorization" in request.headers:
            return request
        headers = [*request.scope["headers"], (b"authorization", f"Bearer {token}".encode())]
        return Request({**request.scope, "headers": headers}, request.receive)

    async def _origin(self, how: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            answer = await self.http.post(
                f"{self.origin_url}/internal/signin/{how}",
                json=dict(body),
                headers={SERVICE_HEADER: self.secret},
            )
        except httpx.HTTPError as exc:
            raise SlackError("service_unavailable", f"origin unreachable: {exc!r}", 503) from exc
        try:
            found = orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            found = None
        if not isinstance(found, dict):
            raise SlackError("service_unavailable", f"origin answered HTTP {answer.status_code}", 503)
        if found.get("ok") is not True:
            detail = found.get("detail")
            if answer.status_code == 429:
                raise RateLimited(int(answer.headers.get("retry-after", "1") or 1), detail)
            raise SlackError(str(found.get("error") or "internal_error"), detail)
        return found

    def _signed_in(self, request: Request, found: Mapping[str, Any]) -> Response:
        token = str(found["token"])
        body = {"ok": True, "team_id": found["team_id"], "user_id": found["user_id"]}
        body["csrf"] = csrf_of(self.secret, token)
        secure = request.url.scheme == "https"
        response = _json(body, headers={"cache-control": "no-store"})
        response.headers.append("set-cookie", session_cookie(token, secure))
        response.headers.append(
            "set-cookie", session_cookie(body["csrf"], secure, name=CSRF_COOKIE, http_only=False)
        )
        return response

    @staticmethod
    def _address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def signin(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            email, password, team = body.get("email"), body.get("password"), body.get("team", "")
            if not isinstance(email, str) or not isinstance(password, str) or not isinstance(team, str):
                raise SlackError("invalid_arguments", "email and password are strings")
            args = {"email": email, "password": password, "team": team, "address": self._address(request)}
            return self._signed_in(request, await self._origin("password", args))
        except SlackError as exc:
            return _error(exc)

    async def signin_link(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            link = body.get("link")
            if not isinstance(link, str):
                raise SlackError("invalid_arguments", "link is a string")
            args = {"link": link, "address": self._address(request)}
            return self._signed_in(request, await self._origin("link", args))
        except SlackError as exc:
            return _error(exc)

    async def session(self, request: Request) -> Response:
        """Who the cookie signs in, and the CSRF value the page sends with its calls."""
        token = request.cookies.get(COOKIE)
        if not token:
            return _json({"ok": False, "error": "not_authed"})
        try:
            who = await self.router.tokens.check(token)
        except SlackError as exc:
            return _error(exc)
        body = {
            "ok": True,
            "team_id": who.team_id,
            "user_id": who.user_id,
            "csrf": csrf_of(self.secret, token),
        }
        return _json(body, headers={"cache-control": "no-store"})

    async def signout(self, request: Request) -> Response:
        try:
            token = self.token_of(request)
            if token:
                try:
                    await call_origin(self.http, f"{self.origin_url}/api/auth.revoke", token)
                except SlackError:
                    pass  # the origin is down: the cookie is still dropped
        except SlackError as exc:
            return _error(exc)
        secure = request.url.scheme == "https"
        response = _json({"ok": True})
        response.headers.append("set-cookie", session_cookie("", secure, max_age=None))
        response.headers.append("set-cookie", session_cookie("", secure, None, CSRF_COOKIE, False))
        # and the channel it showed: the next person to sign in here is not told it
        response.headers.append("set-cookie", session_cookie("", secure, None, CHANNEL_COOKIE, False))
        return response

    async def page(self, request: Request) -> Response:
        """The client. To a signed-in session it comes with its first screen and its
        WebSocket's URL: the router answers ``rtm.connect`` for the session's cookie while
        serving the page, reads the first screen from the chosen edge
        (:mod:`flannel.first_screen`: the hello, the first channel's page, its people) and has
        the ticket resume from that hello's offset; the page draws the screen at once, and its
        inline boot script (under a nonce of this answer's policy) opens the socket before the
        modules have loaded. Such a page holds a ticket: it is never stored. An edge that does
        not answer the screen: the page without it (it asks over its socket). Without a
        session, or when the connect is refused (the page then asks ``rtm.connect`` itself,
        and lands on sign-in for a dead session), the plain page."""
        boot = await self._boot(request)
        if boot is None:
            return Response(
                self.index,
                headers={"content-security-policy": CSP, "cache-control": "no-cache"},
                media_type="text/html",
            )
        nonce = secrets.token_urlsafe(18)
        script = f'{boot_data(boot)}<script nonce="{nonce}">{self.boot_js}</script>'
        headers = {"content-security-policy": boot_csp(nonce), "cache-control": "no-store"}
        return Response(self.index.replace(BOOT_SLOT, script, 1), headers=headers, media_type="text/html")

    async def _boot(self, request: Request) -> dict[str, Any] | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        screen: dict[str, Any] | None = None

        async def resume(edge: EdgeRecord) -> int | None:
            nonlocal screen
            screen = await self._first_screen(edge.http_url, token, request.cookies.get(CHANNEL_COOKIE))
            return None if screen is None else int(screen["hello"]["offset"])

        try:
            answer = await self.router.connect(token, self._address(request), {}, resume)
        except SlackError:
            return None
        me = f"{answer['team']['id']}:{answer['self']['id']}"  # whose last channel the page may ask at once
        boot = {
            "url": answer["url"],
            "edge": answer["edge"]["id"],
            "csrf": csrf_of(self.secret, token),
            "me": me,
        }
        if screen is not None:
            boot["screen"] = screen
        return boot

    async def _first_screen(self, edge_url: str, token: str, channel: str | None) -> dict[str, Any] | None:
        """The page's first screen from the chosen edge (:mod:`flannel.first_screen`): its
        hello, first channel's page and people; None when the edge does not answer it in time
        (the page then asks over its socket, as a page without it does)."""
        try:
            answer = await self.http.post(
                f"{edge_url}/internal/first_screen",
                content=orjson.dumps({"channel": channel} if channel and len(channel) <= 64 else {}),
                headers={
                    SERVICE_HEADER: self.secret,
                    "authorization": f"Bearer {token}",
                    "content-type": JSON_TYPE,
                },
                timeout=SCREEN_TIMEOUT_S,
            )
            found = orjson.loads(answer.content)
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            log.debug("the first screen from %s failed: %r", edge_url, exc)
            return None
        if not isinstance(found, dict) or found.pop("ok", None) is not True:
            return None
        hello = found.get("hello")
        if not isinstance(hello, dict) or not isinstance(hello.get("offset"), int):
            return None
        return found

    async def dashboard_page(self, request: Request) -> Response:
        return FileResponse(
            STATIC / "dashboard.html", headers={"content-security-policy": CSP, "cache-control": "no-cache"}
        )

    async def _operator(self, request: Request) -> None:
        """The service secret, or the session of a workspace admin."""
        given = request.headers.get(SERVICE_HEADER, "")
        if given:
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                raise SlackError("invalid_auth", "wrong service secret", 401)
            return
        token = self.token_of(request)
        if not token:
            raise SlackError("not_authed", "sign in as an admin, or send the service secret", 401)
        who = await self._origin("whoami", {"token": token})
        if who.get("is_admin") is not True:
            raise SlackError("not_allowed", "the dashboard is for admins", 403)

    async def _edge_figures(self, http_url: str) -> dict[str, Any]:
        headers = {SERVICE_HEADER: self.secret}
        try:
            stats, metrics = await asyncio.gather(
                self.http.get(f"{http_url}/internal/stats", headers=headers, timeout=2.0),
                self.http.get(f"{http_url}/metrics", timeout=2.0),
            )
            body = orjson.loads(stats.content)
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            return {"reachable": False, "detail": repr(exc)[:200]}
        out = dict(body) if isinstance(body, dict) else {}
        out["reachable"] = True
        out["log_lag"] = lag_of(metrics.content)
        return out

    async def dashboard(self, request: Request) -> Response:
        """Edges by region (connections, workspaces, cache memory, snapshot loads, change-log
        lag), the router's placements, and the origin's relay backlog: one JSON object."""
        try:
            await self._operator(request)
        except SlackError as exc:
            return _error(exc)
        stats = await self.router.stats()
        records = {e.id: e for e in await self._edges()}
        figures = await asyncio.gather(
            *(self._edge_figures(records[e["id"]].http_url) for e in stats["edges"] if e["id"] in records)
        )
        by_id = dict(zip([e["id"] for e in stats["edges"] if e["id"] in records], figures, strict=True))
        regions: dict[str, list[dict[str, Any]]] = {}
        for edge in stats["edges"]:
            regions.setdefault(edge["region"], []).append({**edge, **by_id.get(edge["id"], {})})
        origin: dict[str, Any] = {"reachable": False}
        try:
            answer = await self.http.get(
                f"{self.origin_url}/internal/stats", headers={SERVICE_HEADER: self.secret}, timeout=2.0
            )
            origin = {**orjson.loads(answer.content), "reachable": True}
        except (httpx.HTTPError, orjson.JSONDecodeError, TypeError):
            pass
        placements = {k: v for k, v in stats.items() if k != "edges"}
        total = stats["placements"] or 0
        placements["warm_share"] = round(stats["warm_hits"] / total, 4) if total else None
        body = {"ok": True, "regions": regions, "router": placements, "origin": origin}
        return _json(body, headers={"cache-control": "no-store"})

    async def _edges(self) -> list[Any]:
        try:
            return list(await self.router.registry.edges())
        except Exception:  # the registry is down: the dashboard still shows the rest
            return []
