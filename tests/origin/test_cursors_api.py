"""Every cursor a client sends gets a page or ``invalid_cursor``, never a 500: Unicode digits,
thousands of digits, integers past 2^63 (SQLite's limit), foreign kinds, garbage. Through the
HTTP API of the origin, on SQLite and on MariaDB."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.origin.conftest import InProcess
from wire import cursors


def raw(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


ODD_KEYS = ["²", "١٢", "1²", "9" * 4301, str(2**63), str(2**64), str(-1), "-0", " 1", "1e3", "0x10", "1_000"]
GARBAGE = [
    "²",
    "%%%",
    "*",
    "x" * 600,
    raw(b"ts:\xff\xfe"),
    raw("ts:"),
    raw(":1"),
    raw("nothing"),
    raw("user:é"),
    raw("user:\x00"),
    raw("conv:C1\n"),
    "dXNlcjpVMQ==" * 3,
]


def odd_cursors(kind: str) -> list[str]:
    return [cursors.encode(kind, key) for key in ODD_KEYS] + [cursors.encode("other", "1"), *GARBAGE]


async def thread_ts(app: InProcess) -> str:
    team = app.team
    parent = (
        await app.call("chat.postMessage", team.alice.token, json={"channel": team.general, "text": "p"})
    ).json()
    reply = {"channel": team.general, "text": "r", "thread_ts": parent["ts"]}
    assert (await app.call("chat.postMessage", team.alice.token, json=reply)).json()["ok"]
    return str(parent["ts"])


async def test_every_paged_method_answers_an_odd_cursor_with_a_page_or_invalid_cursor(app: InProcess) -> None:
    team = app.team
    ts = await thread_ts(app)
    methods: list[tuple[str, str, dict[str, Any]]] = [
        ("users.list", "user", {}),
        ("conversations.list", "conv", {"types": "public_channel,private_channel,im,mpim"}),
        ("conversations.members", "member", {"channel": team.general}),
        ("conversations.history", "ts", {"channel": team.general}),
        ("conversations.replies", "ts", {"channel": team.general, "ts": ts}),
        ("search.messages", "search", {"query": "p"}),
    ]
    for method, kind, params in methods:
        for cursor in odd_cursors(kind):
            resp = await app.http.get(
                f"/api/{method}",
                params={**params, "cursor": cursor},
                headers={"Authorization": f"Bearer {team.alice.token}"},
            )
            assert resp.status_code == 200, (method, cursor[:40], resp.text[:300])
            body = resp.json()
            assert body["ok"] or body["error"] == "invalid_cursor", (method, cursor[:40], body)


@pytest.mark.parametrize("key", ["²", "9" * 4301, str(2**63), str(2**62)])
async def test_a_ts_cursor_that_is_not_a_small_ascii_integer_is_invalid_cursor(
    app: InProcess, key: str
) -> None:
    params = {"channel": app.team.general, "cursor": cursors.encode("ts", key)}
    body = (await app.call("conversations.history", app.team.alice.token, params=params)).json()
    assert body == {"ok": False, "error": "invalid_cursor"}


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "²", "1.²", "1e9"])
async def test_a_ts_argument_past_2_63_or_with_odd_digits_is_refused(app: InProcess, value: str) -> None:
    for name in ("latest", "oldest"):
        params = {"channel": app.team.general, name: value}
        body = (await app.call("conversations.history", app.team.alice.token, params=params)).json()
        assert body["ok"] is False and body["error"] == "invalid_arguments", (name, value, body)


async def test_our_own_cursors_still_page_through_everything(app: InProcess) -> None:
    team = app.team
    for i in range(5):
        await app.call("chat.postMessage", team.bob.token, json={"channel": team.general, "text": f"m{i}"})
    seen: list[str] = []
    cursor = ""
    while True:
        params = {"channel": team.general, "limit": 2, "cursor": cursor}
        body = (await app.call("conversations.history", team.alice.token, params=params)).json()
        seen += [m["text"] for m in body["messages"]]
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [f"m{i}" for i in reversed(range(5))]
