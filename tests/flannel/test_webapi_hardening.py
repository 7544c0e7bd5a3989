"""The edge's Web API against hostile or broken requests: bounded metric labels, Slack errors
(HTTP 200) for malformed bodies, the service secret on ``/internal/stats``, and a client that
hangs up mid-body logged at debug (issue 13, defects 1, 7, 9 and 10)."""

from __future__ import annotations

import logging

import pytest

from tests.asgi import FORM, call, hang_up_mid_body, http_scope, malformed_bodies, many_fields
from tests.flannel.harness import SECRET, FakeOrigin, serve
from wire.http import SERVICE_HEADER

BOB = {"Authorization": "Bearer xoxp-bob"}


async def test_unknown_method_names_share_one_metric_label() -> None:
    origin = FakeOrigin(methods=frozenset({"chat.postMessage"}))
    async with serve(origin) as env, env.http() as http:
        for i in range(300):
            await http.post(f"/api/no.such.method{i}", data={"x": "1"})
        await http.post("/api/chat.postMessage", json={"channel": "C1", "text": "hi"}, headers=BOB)
        await http.post("/api/users.info", data={"user": "U1"}, headers=BOB)
        env.origin.down = True  # a name the origin cannot vouch for is not a label either
        await http.post("/api/also.unknown", headers=BOB)
        metrics = (await http.get("/metrics")).text
    assert "no.such.method" not in metrics and "also.unknown" not in metrics
    assert 'flannel_edge_requests_total{error="unknown_method",method="unknown"} 300.0' in metrics
    assert 'flannel_edge_requests_total{error="",method="chat.postMessage"} 1.0' in metrics
    assert 'flannel_edge_requests_total{error="",method="users.info"} 1.0' in metrics
    assert len(metrics) < 40_000  # the size does not follow the number of names called


MALFORMED = malformed_bodies("user", "U1")


@pytest.mark.parametrize("method", ["users.info", "chat.postMessage", "rtm.connect", "no.such"])
@pytest.mark.parametrize(("what", "ctype", "body", "error"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_bodies_are_slack_errors_with_http_200(
    method: str, what: str, ctype: str, body: bytes, error: str
) -> None:
    async with serve() as env, env.http() as http:
        answer = await http.post(f"/api/{method}", content=body, headers={**BOB, "content-type": ctype})
    assert answer.status_code == 200, what
    assert answer.json()["ok"] is False and answer.json()["error"] == error, what
    assert env.origin.forwarded() == []  # refused here, never passed on


async def test_too_many_query_fields_are_a_slack_error() -> None:
    async with serve() as env, env.http() as http:
        answer = await http.get("/api/users.info?" + many_fields(1500).decode(), headers=BOB)
    assert answer.status_code == 200 and answer.json()["error"] == "invalid_form_data"


async def test_internal_stats_need_the_service_secret() -> None:
    async with serve() as env, env.http() as http:
        missing = await http.get("/internal/stats")
        wrong = await http.get("/internal/stats", headers={SERVICE_HEADER: "nope"})
        right = await http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})
    assert missing.status_code == 401 and missing.json()["error"] == "not_authed"
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_auth"
    assert right.status_code == 200 and right.json()["ok"] and "connections" in right.json()


async def test_a_client_hanging_up_mid_body_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    headers = [(b"content-type", FORM.encode()), (b"authorization", b"Bearer xoxp-bob")]
    scope = http_scope("POST", "/api/users.info", headers, server=("edge.test", 80))
    caplog.set_level(logging.DEBUG)
    async with serve() as env:
        sent = await call(env.app, scope, hang_up_mid_body(b"user=U"))
    mine = [r for r in caplog.records if r.name.startswith("flannel")]
    assert not [r for r in mine if r.levelno >= logging.WARNING], [r.getMessage() for r in mine]
    assert any("hung up" in r.getMessage() and r.levelno == logging.DEBUG for r in mine)
    assert sent[0]["status"] == 400  # nobody reads it; never a 500
