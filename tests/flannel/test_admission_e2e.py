"""Who may connect, across real processes: sessions refused to deactivated users and revoked
tokens (also on an edge that was cold), eviction does not extend a revoked token, new users are
not refused, bad resume offsets get clear errors, and tickets stay single-use across edge
restarts (the nonces live in Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import websockets

from origin.service import users
from origin.service.auth import issue_token
from tests.conftest import ServerProcess
from tests.flannel.conftest import Stack
from wire import closecodes


async def call(url: str, token: str, **data: Any) -> Any:
    async with httpx.AsyncClient() as http:
        resp = await http.post(url, data=data, headers={"Authorization": f"Bearer {token}"})
    return resp.json()


async def first_frames(url: str, wait_s: float = 3.0) -> tuple[list[dict[str, Any]], int | None]:
    sock = await websockets.connect(url)
    out: list[dict[str, Any]] = []
    try:
        while True:
            out.append(orjson.loads(await asyncio.wait_for(sock.recv(), wait_s)))
    except (TimeoutError, websockets.ConnectionClosed):
        pass
    await sock.close()
    return out, sock.close_code


async def test_a_deactivated_user_with_a_still_cached_token_is_refused(stack: Stack) -> None:
    team = stack.team
    bob = await websockets.connect((await call(stack.router_api() + "rtm.connect", team.bob.token))["url"])
    assert orjson.loads(await bob.recv())["type"] == "hello"
    await users.set_deleted(stack.store, team.id, team.bob.id, True)
    try:  # the edge has applied the deactivation once it closes bob's open session
        while True:
            await asyncio.wait_for(bob.recv(), 10)
    except websockets.ConnectionClosed:
        assert bob.close_code == closecodes.ACCOUNT_INACTIVE
    again = await call(stack.router_api() + "rtm.connect", team.bob.token)  # the router's cache is stale
    assert again["ok"]
    frames, code = await first_frames(again["url"])
    assert [f.get("type") for f in frames] == ["error"], frames
    assert frames[0]["error"]["code"] == "account_inactive" and code == closecodes.ACCOUNT_INACTIVE


async def test_an_evicted_workspace_does_not_keep_a_revoked_token_alive(
    stack: Stack, start_server: type[ServerProcess]
) -> None:
    edge = stack.start_edge(start_server, "local", None, "--cache-mb", "0.001")
    api = edge.url + "/api/"
    team = stack.team
    assert (await call(api + "users.list", team.carol.token))["ok"]
    assert (await call(api + "auth.test", stack.other.alice.token))["ok"]  # evicts team's workspace
    assert (await call(stack.origin.url + "/api/auth.revoke", team.carol.token))["revoked"]
    answer = await call(api + "users.list", team.carol.token)
    assert answer == {"ok": False, "error": "token_revoked"}


async def test_a_brand_new_user_can_connect_at_once(stack: Stack) -> None:
    team = stack.team
    assert (await call(stack.edge_api() + "users.list", team.alice.token))["ok"]  # warm
    newbie = await users.create_user(stack.store, team.id, "newbie", "New Bie")
    token = await issue_token(stack.store, team.id, newbie["id"])
    assert (await call(stack.edge_api() + "auth.test", token))["user_id"] == newbie["id"]
    placed = await call(stack.router_api() + "rtm.connect", token)
    frames, _ = await first_frames(placed["url"], 1.0)
    assert frames[0]["type"] == "hello" and frames[0]["self"]["id"] == newbie["id"]


async def test_bad_resume_offsets_get_clear_errors(stack: Stack) -> None:
    team = stack.team
    for bad in ("²", "-1", "abc", "1e3"):
        answer = await call(stack.edge_api() + "rtm.connect", team.bob.token, resume_from=bad)
        assert answer["error"] == "invalid_arguments", (bad, answer)
    good = await call(stack.edge_api() + "rtm.connect", team.bob.token)
    frames, code = await first_frames(good["url"] + "&resume_from=abc", 1.0)
    assert frames[0]["error"]["code"] == "invalid_arguments" and code == closecodes.BAD_TICKET


async def test_a_ticket_stays_single_use_across_an_edge_restart(
    stack: Stack, start_server: type[ServerProcess]
) -> None:
    url = (await call(stack.edge_api() + "rtm.connect", stack.team.bob.token))["url"]
    frames, _ = await first_frames(url, 1.0)
    assert frames[0]["type"] == "hello"
    port = stack.edges[0].port
    stack.edges.pop(0).stop()
    stack.start_edge(start_server, "local", port)
    frames, code = await first_frames(url, 1.0)
    assert frames[0]["error"]["code"] == "ticket_used" and code == closecodes.BAD_TICKET


async def test_a_revoked_token_cannot_open_a_session_on_an_edge_that_was_cold(
    stack: Stack, start_server: type[ServerProcess]
) -> None:
    team = stack.team
    bob = await websockets.connect((await call(stack.router_api() + "rtm.connect", team.bob.token))["url"])
    assert orjson.loads(await bob.recv())["type"] == "hello"  # the router has bob's token cached now
    stack.start_edge(start_server, "eu")  # cold for this workspace
    assert (await call(stack.origin.url + "/api/auth.revoke", team.bob.token))["revoked"]
    again = await call(stack.router_api() + "rtm.connect", team.bob.token, region="eu")
    assert again["ok"], again  # the router's cache has not heard yet
    frames, code = await first_frames(again["url"])
    assert frames[0]["error"]["code"] == "token_revoked" and code == closecodes.TOKEN_REVOKED
    await bob.close()
