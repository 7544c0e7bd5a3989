"""The origin answers like Slack over HTTP: every Slack error with HTTP 200 (malformed bodies
included), rate limits with 429 and ``Retry-After``, a crash with 500; internal endpoints want
the service secret (401 without it). In-process: the app over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from origin.api.http import ApiEndpoint
from origin.api.ratelimit import RateLimiter
from origin.api.registry import Context, Method
from origin.store.shards import Store
from tests.asgi import FORM, call, hang_up_mid_body, http_scope, malformed_bodies
from tests.factories import make_team
from tests.origin.conftest import InProcess, in_process
from wire.args import Args
from wire.http import MAX_BODY, MAX_FIELDS, SERVICE_HEADER

SECRET = "dev-secret-change-me"


def slack_error(resp: httpx.Response, code: str) -> dict[str, Any]:
    assert resp.status_code == 200, (resp.status_code, resp.text)
    body: dict[str, Any] = resp.json()
    assert body["ok"] is False and body["error"] == code, body
    return body


async def test_an_unknown_method_is_a_slack_error_with_http_200(app: InProcess) -> None:
    body = slack_error(await app.call("no.such.method", app.team.alice.token), "unknown_method")
    assert "no.such.method" in body["detail"]


async def test_a_body_over_the_limit_is_request_too_large_with_http_200(app: InProcess) -> None:
    resp = await app.call(
        "chat.postMessage",
        app.team.alice.token,
        content=b"x" * (MAX_BODY + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    slack_error(resp, "request_too_large")


async def test_a_form_of_more_than_1000_fields_is_invalid_form_data(app: InProcess) -> None:
    fields = "&".join(f"f{i}=v" for i in range(MAX_FIELDS + 1))
    resp = await app.call(
        "auth.test",
        app.team.alice.token,
        content=fields.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    slack_error(resp, "invalid_form_data")


async def test_a_multipart_body_without_a_boundary_is_invalid_form_data(app: InProcess) -> None:
    resp = await app.call(
        "auth.test",
        app.team.alice.token,
        content=b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
        headers={"content-type": "multipart/form-data"},
    )
    slack_error(resp, "invalid_form_data")


async def test_a_well_formed_multipart_form_is_read(app: InProcess) -> None:
    resp = await app.call("conversations.info", files={"channel": (None, app.team.general)}, data={})
    # no token yet: the token may come as a multipart field too
    slack_error(resp, "not_authed")
    resp = await app.call(
        "conversations.info", files={"channel": (None, app.team.general), "token": (None, app.team.bob.token)}
    )
    assert resp.status_code == 200 and resp.json()["channel"]["id"] == app.team.general


MALFORMED = malformed_bodies("channel", "C1")


@pytest.mark.parametrize(("what", "ctype", "content", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_every_malformed_body_is_a_slack_error(
    app: InProcess, what: str, ctype: str, content: bytes, code: str
) -> None:
    resp = await app.call("auth.test", app.team.alice.token, content=content, headers={"content-type": ctype})
    slack_error(resp, code)


async def test_auth_errors_are_http_200(app: InProcess) -> None:
    slack_error(await app.call("auth.test"), "not_authed")
    slack_error(await app.call("auth.test", "xoxp-nope"), "invalid_auth")


@pytest.fixture
async def strict(store: Store) -> AsyncIterator[InProcess]:
    """rtm.start (tier 1) allows one call a minute."""
    async for running in in_process(store, rate_limits={1: 1}):
        yield running


async def test_rate_limits_answer_429_with_retry_after(strict: InProcess) -> None:
    token = strict.team.alice.token
    assert (await strict.call("rtm.start", token)).json()["ok"]
    resp = await strict.call("rtm.start", token)
    assert resp.status_code == 429 and resp.json()["error"] == "ratelimited"
    assert int(resp.headers["Retry-After"]) >= 1


async def test_a_crash_is_500_internal_error_and_reveals_nothing(store: Store) -> None:
    async def boom(ctx: Context, args: Args) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    team = await make_team(store)
    endpoint = ApiEndpoint(store, {"boom": Method("boom", boom, 3)}, RateLimiter({}), "http://origin")

    async def api(request: Request) -> Response:
        return await endpoint(request)

    app = Starlette(routes=[Route("/api/{method}", api, methods=["GET", "POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as http:
        resp = await http.post("/api/boom", headers={"Authorization": f"Bearer {team.alice.token}"})
    assert resp.status_code == 500
    assert resp.json() == {"ok": False, "error": "internal_error"}


async def test_internal_stats_want_the_service_secret(app: InProcess) -> None:
    missing = await app.http.get("/internal/stats")
    assert missing.status_code == 401 and missing.json()["error"] == "not_authed"
    wrong = await app.http.get("/internal/stats", headers={SERVICE_HEADER: "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_auth"
    right = await app.http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})
    assert right.status_code == 200 and right.json()["ok"] is True
    assert {"snapshots_served", "relay_published", "relay_backlog"} <= set(right.json())


async def test_a_bearer_header_wins_over_a_token_argument(app: InProcess) -> None:
    resp = await app.call("auth.test", app.team.alice.token, data={"token": app.team.bob.token})
    assert resp.json()["user_id"] == app.team.alice.id


async def test_a_client_hanging_up_mid_body_is_no_error(
    app: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody is left to answer: logged at debug, no traceback at error level."""
    headers = [(b"content-type", FORM.encode()), (b"content-length", b"100")]
    scope = http_scope("POST", "/api/chat.postMessage", headers, server=("origin", 80))
    with caplog.at_level("DEBUG", logger="flannel.origin.api"):
        await call(app.asgi, scope, hang_up_mid_body(b"text=par"))
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert any("hung up" in r.getMessage() for r in caplog.records)
