"""The page's first screen (``flannel.first_screen``), inlined by the router in the page it
serves a signed-in session: a real origin, edge and router (processes), the page read as
HTML. Which channel comes first, that nothing in it can end the page's script, and that the
socket's ticket resumes from the inlined hello's offset."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import orjson
import pytest

from router.webclient import CHANNEL_COOKIE, COOKIE
from tests.flannel.conftest import Stack
from wire.tickets import check

pytestmark = pytest.mark.e2e
SECRET = "dev-secret-change-me"  # the processes' default
HOSTILE = "</script><script>alert(1)</script> <!-- and \u2028 a line separator"


async def _call(stack: Stack, token: str, method: str, **args: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{stack.origin.url}/api/{method}", data=args, headers={"authorization": f"Bearer {token}"}
        )
    body: dict[str, Any] = answer.json()
    assert body["ok"] is True, body
    return body


async def _page(stack: Stack, cookies: dict[str, str]) -> tuple[httpx.Response, dict[str, Any] | None]:
    assert stack.router is not None
    async with httpx.AsyncClient(base_url=stack.router.url, cookies=cookies, timeout=10) as http:
        page = await http.get("/")
    found = re.search(r'<script type="application/json" id="flannel-boot">(.*?)</script>', page.text)
    return page, orjson.loads(found.group(1)) if found else None


async def _edge_sees(stack: Stack, token: str, method: str, seen: Any, **args: Any) -> None:
    """Until the edge's answer to ``method`` satisfies ``seen`` (it learns of writes through
    the log): asked of the edge's Web API, not by loading pages (each is an ``rtm.connect``)."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            answer = await http.post(
                stack.edge_api() + method, data=args, headers={"authorization": f"Bearer {token}"}
            )
            if seen(answer.json()) or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)


async def _screen(stack: Stack, cookies: dict[str, str]) -> dict[str, Any]:
    """The inlined screen (a cold edge, still loading the workspace, may not answer it in
    time: that page comes without it, and the page is asked again)."""
    for _ in range(5):
        page, boot = await _page(stack, cookies)
        assert boot is not None, page.text
        if "screen" in boot:
            screen: dict[str, Any] = boot["screen"]
            return screen | {"boot": boot, "page": page.text}
        await asyncio.sleep(1)
    raise AssertionError("no first screen")


async def test_the_page_comes_with_its_first_screen(stack: Stack) -> None:
    team = stack.team
    alice, carol = team.alice, team.carol
    await _call(stack, carol.token, "chat.postMessage", channel=team.general, text=f"<@{alice.id}> {HOSTILE}")
    text = f"<@{alice.id}> {HOSTILE}"
    has = lambda answer: any(m["text"] == text for m in answer.get("messages", []))  # noqa: E731
    await _edge_sees(stack, alice.token, "conversations.history", has, channel=team.general)
    screen = await _screen(stack, {COOKIE: alice.token})
    assert "alert(1)" in screen["page"] and "</script><script>alert" not in screen["page"]  # escaped
    hello = screen["hello"]
    assert hello["type"] == "hello" and hello["self"]["id"] == alice.id and hello["resume_from"] is None
    assert screen["channel"] == team.general  # no cookie: #general
    newest = screen["history"]["messages"][0]
    assert newest["text"] == f"<@{alice.id}> {HOSTILE}"  # the text as posted, once decoded
    assert carol.id in {u["id"] for u in screen["users"]}  # the author, so the page names them
    # The socket resumes where the screen stands: what is posted after it is replayed to it.
    claims = check(SECRET, screen["boot"]["url"].split("ticket=")[1], claims_edge(screen), time.time())
    assert claims.resume_from == hello["offset"] and claims.user == alice.id


def claims_edge(screen: dict[str, Any]) -> str:
    return str(screen["boot"]["edge"])


async def test_the_first_channel_is_the_cookies_while_the_user_is_in_it(stack: Stack) -> None:
    team = stack.team
    alice, bob, carol = team.alice, team.bob, team.carol
    await _call(stack, bob.token, "chat.postMessage", channel=team.private, text="plans, secretly")
    gone = (await _call(stack, alice.token, "conversations.create", name="old-news"))["channel"]["id"]
    await _call(stack, alice.token, "conversations.archive", channel=gone)
    theirs = await _call(stack, carol.token, "conversations.create", name="carols", is_private="true")
    archived = lambda answer: answer.get("channel", {}).get("is_archived") is True  # noqa: E731
    await _edge_sees(stack, alice.token, "conversations.info", archived, channel=gone)
    mine = await _screen(stack, {COOKIE: alice.token, CHANNEL_COOKIE: team.private})
    assert mine["channel"] == team.private
    assert "plans, secretly" in [m["text"] for m in mine["history"]["messages"]]
    for wanted in (gone, theirs["channel"]["id"], "CNOSUCHONE", "not an id</script>"):
        screen = await _screen(stack, {COOKIE: alice.token, CHANNEL_COOKIE: wanted})
        assert screen["channel"] == team.general, wanted  # archived, someone else's, unknown: #general
        assert all(c["id"] != theirs["channel"]["id"] for c in screen["hello"]["channels"])


async def test_no_session_or_a_dead_one_gets_the_plain_page(stack: Stack) -> None:
    alice = stack.team.alice
    for cookies in ({}, {COOKIE: "xoxp-not-a-token"}):
        page, boot = await _page(stack, cookies)
        assert page.status_code == 200 and boot is None and 'id="flannel-boot"' not in page.text
    revoked = (await _call(stack, alice.token, "auth.test"))["user_id"]
    assert revoked == alice.id
    await _call(stack, alice.token, "auth.revoke")
    page, boot = await _page(stack, {COOKIE: alice.token})
    assert boot is None and page.headers["cache-control"] == "no-cache"
