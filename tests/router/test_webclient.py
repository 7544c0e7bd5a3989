"""The browser client's side of the router: the page, the session cookie, CSRF, sign-out."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import orjson

from router.app import create_app
from router.registry import MemoryRegistry
from router.settings import RouterSettings
from router.webclient import (
    BOOT_SLOT,
    CHANNEL_COOKIE,
    COOKIE,
    CSRF_COOKIE,
    CSRF_HEADER,
    cookie_token,
    csrf_of,
    lag_of,
    session_cookie,
)
from tests.router.test_router_app import ALICE, REVOKED, SECRET, Env
from tests.router.test_router_app import origin as token_origin
from wire.errors import SlackError
from wire.http import SERVICE_HEADER
from wire.tickets import check

PASSWORD = "correct horse"


class Origin:
    """The origin's sign-in endpoint and auth.revoke, in front of the router tests' origin."""

    def __init__(self) -> None:
        self.revoked: list[str] = []
        self.attempts: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/internal/signin/"):
            assert request.headers[SERVICE_HEADER] == SECRET
            body = orjson.loads(request.content)
            self.attempts.append(body)
            if path.endswith("/password") and body["password"] == PASSWORD:
                return _json({"ok": True, "token": ALICE, "team_id": "T1", "user_id": "U1"})
            if path.endswith("/whoami"):
                return _json({"ok": True, "team_id": "T1", "user_id": "U1", "is_admin": False})
            return _json({"ok": False, "error": "invalid_credentials"})
        if path == "/internal/stats":
            return _json({"ok": True, "relay_backlog": 3})
        if path == "/api/auth.revoke":
            self.revoked.append(request.headers["authorization"])
            return _json({"ok": True, "revoked": True})
        return token_origin(request)


def _json(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=orjson.dumps(body))


def router(origin: Origin) -> httpx.AsyncClient:
    settings = RouterSettings(secret=SECRET, default_region="us")
    app = create_app(settings, MemoryRegistry(), httpx.MockTransport(origin))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router")


def test_csrf_is_derived_from_the_token_and_checked() -> None:
    value = csrf_of(SECRET, ALICE)
    assert value == csrf_of(SECRET, ALICE) != csrf_of("other", ALICE) != csrf_of(SECRET, "xoxp-T1-U2-x")
    assert cookie_token({}, {}, SECRET) is None
    assert cookie_token({COOKIE: ALICE}, {CSRF_HEADER: value}, SECRET) == ALICE
    for headers in ({}, {CSRF_HEADER: "nope"}):
        try:
            cookie_token({COOKIE: ALICE}, headers, SECRET)
        except SlackError as exc:
            assert (exc.code, exc.status) == ("invalid_csrf", 403)
        else:
            raise AssertionError("a cookie without its CSRF value was taken")


def test_the_cookie_is_httponly_and_strict() -> None:
    cookie = session_cookie("tok", secure=True)
    assert {"HttpOnly", "SameSite=Strict", "Secure", "Path=/"} <= set(cookie.split("; "))
    assert "Max-Age=0" in session_cookie("", secure=False, max_age=None)


def test_lag_is_read_from_the_edge_metrics() -> None:
    text = b"# HELP flannel_edge_log_lag x\n# TYPE flannel_edge_log_lag gauge\nflannel_edge_log_lag 12.0\n"
    assert lag_of(text) == 12
    assert lag_of(b"flannel_edge_connections 3\n") is None


async def test_the_page_is_served_with_a_strict_policy() -> None:
    async with router(Origin()) as http:
        page = await http.get("/")
        assert page.status_code == 200 and '<script type="module"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = await http.get("/web/static/js/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (await http.get("/web/static/../webclient.py")).status_code == 404


async def test_a_signed_in_page_comes_with_its_socket_under_a_nonce() -> None:
    env = Env()
    try:
        await env.edge("e1")
        page = await env.http.get("/", cookies={COOKIE: ALICE})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"  # it holds a ticket
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
        assert nonce is not None and "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
        data = re.search(r'<script type="application/json" id="flannel-boot">(.*?)</script>', page.text)
        script = re.search(r'<script nonce="([^"]+)">', page.text)
        assert script is not None and script.group(1) == nonce.group(1) and BOOT_SLOT not in page.text
        assert data is not None and page.text.index(data.group(0)) < script.start()  # read by it
        boot = orjson.loads(data.group(1))
        assert boot["edge"] == "e1" and boot["url"].startswith("ws://e1/rtm?ticket=")
        assert boot["csrf"] == csrf_of(SECRET, ALICE)
        assert boot["me"] == "T1:U1"  # whose last channel boot.js may ask for at once
        # No first screen from this edge (nothing at http://e1 answers one): the page is served
        # without it, and asks over its socket; its ticket resumes from nothing.
        assert "screen" not in boot
        claims = check(SECRET, boot["url"].split("ticket=")[1], "e1", time.time())
        assert (claims.user, claims.team, claims.resume_from) == ("U1", "T1", None)
        again = await env.http.get("/", cookies={COOKIE: ALICE})  # a nonce per answer
        assert again.headers["content-security-policy"] != page.headers["content-security-policy"]
        for cookies in ({COOKIE: REVOKED}, {}):  # a dead session, none: the plain page (no ticket)
            plain = await env.http.get("/", cookies=cookies)
            assert plain.headers["cache-control"] == "no-cache" and 'id="flannel-boot"' not in plain.text
            assert "nonce" not in plain.headers["content-security-policy"]
    finally:
        await env.http.aclose()
        await env.app.state.router.close()


async def test_sign_in_sets_the_cookie_and_calls_need_the_csrf_header() -> None:
    origin = Origin()
    async with router(origin) as http:
        wrong = await http.post("/web/signin", json={"email": "a@example.com", "password": "nope"})
        assert wrong.json() == {"ok": False, "error": "invalid_credentials"}
        assert "set-cookie" not in wrong.headers
        form = await http.post("/web/signin", data={"email": "a@example.com", "password": PASSWORD})
        assert form.json()["error"] == "invalid_form_data"  # a cross-site form cannot sign in
        good = await http.post("/web/signin", json={"email": "a@example.com", "password": PASSWORD})
        body = good.json()
        assert body["ok"] is True and body["csrf"] == csrf_of(SECRET, ALICE)
        assert "HttpOnly" in good.headers["set-cookie"] and http.cookies[COOKIE] == ALICE
        assert http.cookies[CSRF_COOKIE] == body["csrf"]  # the page reads it, to skip a round trip
        assert origin.attempts[-1]["address"] == "127.0.0.1"
        refused = await http.post("/api/auth.test")  # the cookie alone: a forged cross-site call
        assert refused.status_code == 403 and refused.json()["error"] == "invalid_csrf"
        answered = await http.post("/api/auth.test", headers={CSRF_HEADER: body["csrf"]})
        assert answered.json()["user_id"] == "U1"
        session = (await http.get("/web/session")).json()
        assert session == {"ok": True, "team_id": "T1", "user_id": "U1", "csrf": body["csrf"]}
        dashboard = await http.get("/web/dashboard", headers={CSRF_HEADER: body["csrf"]})
        assert dashboard.status_code == 403  # alice is no admin
        http.cookies.set(CHANNEL_COOKIE, "C1", domain="router.local")  # as the page sets it
        assert http.cookies[CHANNEL_COOKIE] == "C1"
        out = await http.post("/web/signout", json={}, headers={CSRF_HEADER: body["csrf"]})
        assert out.json() == {"ok": True} and origin.revoked == [f"Bearer {ALICE}"]
        assert COOKIE not in http.cookies and CSRF_COOKIE not in http.cookies
        assert CHANNEL_COOKIE not in http.cookies  # the last channel is not kept for the next one


async def test_the_dashboard_takes_the_service_secret() -> None:
    async with router(Origin()) as http:
        assert (await http.get("/web/dashboard")).status_code == 401
        answer = await http.get("/web/dashboard", headers={SERVICE_HEADER: SECRET})
        body = answer.json()
        assert body["ok"] is True and body["regions"] == {} and body["router"]["placements"] == 0
        assert body["origin"] == {"ok": True, "relay_backlog": 3, "reachable": True}
