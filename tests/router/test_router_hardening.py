"""The router against hostile or broken requests: Slack errors (HTTP 200) for malformed bodies,
the service secret on ``/internal/stats``, a client hanging up mid-body logged at debug, and
metrics that no request can grow (issue 13, defects 1, 7, 9 and 10)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.asgi import FORM, call, hang_up_mid_body, http_scope, malformed_bodies
from tests.router.test_router_app import ALICE, SECRET, Env
from wire.http import SERVICE_HEADER

AUTH = {"Authorization": f"Bearer {ALICE}"}


MALFORMED = malformed_bodies("region", "us")


@pytest.fixture
async def env() -> Any:
    e = Env()
    await e.edge("us-1")
    yield e
    await e.http.aclose()
    await e.app.state.router.close()


@pytest.mark.parametrize("method", ["rtm.connect", "auth.test", "no.such"])
@pytest.mark.parametrize(("what", "ctype", "body", "error"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_bodies_are_slack_errors_with_http_200(
    env: Env, method: str, what: str, ctype: str, body: bytes, error: str
) -> None:
    answer = await env.http.post(f"/api/{method}", content=body, headers={**AUTH, "content-type": ctype})
    assert answer.status_code == 200, what
    assert answer.json()["ok"] is False and answer.json()["error"] == error, what


async def test_internal_stats_need_the_service_secret(env: Env) -> None:
    missing = await env.http.get("/internal/stats")
    wrong = await env.http.get("/internal/stats", headers={SERVICE_HEADER: "nope"})
    right = await env.http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})
    assert missing.status_code == 401 and missing.json()["error"] == "not_authed"
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_auth"
    assert right.status_code == 200 and right.json()["ok"] and "edges" in right.json()


async def test_no_request_grows_the_metrics(env: Env) -> None:
    before = (await env.http.get("/metrics")).text
    for i in range(200):
        await env.http.post(f"/api/no.such.method{i}", data={"region": f"r{i}", "failed_edge": f"e{i}"})
        await env.http.post("/api/rtm.connect", data={"region": f"zz{i}"}, headers=AUTH)
    after = (await env.http.get("/metrics")).text
    assert "no.such.method" not in after and "zz1" not in after and "e17" not in after
    assert len(after) < len(before) + 2_000


async def test_a_client_hanging_up_mid_body_is_logged_at_debug(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    headers = [(b"content-type", FORM.encode()), (b"authorization", f"Bearer {ALICE}".encode())]
    scope = http_scope("POST", "/api/rtm.connect", headers, server=("router.test", 80))
    caplog.set_level(logging.DEBUG)
    sent = await call(env.app, scope, hang_up_mid_body(b"region=u"))
    mine = [r for r in caplog.records if r.name.startswith("flannel")]
    assert not [r for r in mine if r.levelno >= logging.WARNING], [r.getMessage() for r in mine]
    assert any("hung up" in r.getMessage() and r.levelno == logging.DEBUG for r in mine)
    assert sent[0]["status"] == 400
