"""The edge's Web API against hostile or broken requests: bounded metric labels, Slack errors
(HTTP 200) for malformed bodies, the service secret on ``/internal/stats``, and a client that
hangs up mid-body logged at debug (issue 13, defects 1, 7, 9 and 10)."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.flannel.harness import SECRET, FakeOrigin, serve
from wire.http import SERVICE_HEADER

BOB = {"Authorization": "Bearer xoxp-bob"}
FORM = "application/x-www-form-urlencoded"


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


def many_fields(n: int) -> bytes:
    return "&".join(f"f{i}=1" for i in range(n)).encode()


MALFORMED: list[tuple[str, str, bytes, str]] = [
    ("over 1,000 form fields", FORM, many_fields(1500), "invalid_form_data"),
    ("multipart without a boundary", "multipart/form-data", b"--x\r\n\r\n--x--", "invalid_form_data"),
    ("multipart that is not", "multipart/form-data; boundary=zz", b"garbage", "invalid_form_data"),
    (
        "a part's charset the codec machinery refuses",
        "multipart/form-data; boundary=zz",
        b'--zz\r\nContent-Disposition: form-data; name="user"\r\n'
        b'Content-Type: text/plain; charset="\x00"\r\n\r\nU1\r\n--zz--\r\n',
        "invalid_form_data",
    ),
    ("a form that is not UTF-8", FORM, b"user=%ff\xff", "invalid_form_data"),
    ("bad JSON", "application/json", b'{"user": ', "invalid_json"),
    ("JSON that is not an object", "application/json", b"[1, 2]", "invalid_json"),
    ("an unsupported content type", "text/plain", b"hello", "invalid_form_data"),
    ("a body over the limit", FORM, b"user=" + b"x" * 1_100_000, "request_too_large"),
]


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
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"user=U", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/users.info",
        "raw_path": b"/api/users.info",
        "query_string": b"",
        "headers": [(b"content-type", FORM.encode()), (b"authorization", b"Bearer xoxp-bob")],
        "client": ("127.0.0.1", 50000),
        "server": ("edge.test", 80),
    }
    caplog.set_level(logging.DEBUG)
    async with serve() as env:
        await env.app(scope, receive, send)
    mine = [r for r in caplog.records if r.name.startswith("flannel")]
    assert not [r for r in mine if r.levelno >= logging.WARNING], [r.getMessage() for r in mine]
    assert any("hung up" in r.getMessage() and r.levelno == logging.DEBUG for r in mine)
    assert sent[0]["status"] == 400  # nobody reads it; never a 500
