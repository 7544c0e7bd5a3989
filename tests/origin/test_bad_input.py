"""Bad input always gets a clear error and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from origin.service.teams import current_offset
from tests.factories import make_team
from tests.origin.conftest import Origin


async def test_bad_requests_get_clear_errors_and_change_nothing(origin: Origin) -> None:
    team = origin.team
    other = await make_team(origin.store)
    before = await current_offset(origin.store, team.id)
    auth = {"Authorization": f"Bearer {team.alice.token}"}
    cases: list[tuple[str, dict[str, object], str]] = [
        (
            "chat.postMessage",
            {"json": {"channel": team.general, "text": ["not", "a", "string"]}},
            "invalid_arguments",
        ),
        ("chat.postMessage", {"json": {"channel": team.general, "text": "x" * 40_001}}, "msg_too_long"),
        (
            "chat.postMessage",
            {"json": {"channel": team.general, "text": "hi", "thread_ts": "abc"}},
            "message_not_found",
        ),
        ("chat.postMessage", {"json": {"channel": "C' OR 1=1 --", "text": "hi"}}, "channel_not_found"),
        ("chat.postMessage", {"json": {"channel": other.general, "text": "cross-team"}}, "channel_not_found"),
        (
            "chat.postMessage",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            "invalid_json",
        ),
        (
            "chat.postMessage",
            {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
            "invalid_json",
        ),
        ("conversations.history", {"params": {"channel": team.general, "limit": "lots"}}, "invalid_limit"),
        ("conversations.history", {"params": {"channel": team.general, "limit": "5000"}}, "invalid_limit"),
        (
            "conversations.history",
            {"params": {"channel": team.general, "oldest": "yesterday"}},
            "invalid_arguments",
        ),
        ("conversations.list", {"params": {"types": "public_channel,secret"}}, "invalid_arguments"),
        ("conversations.create", {"data": {"name": "Has Spaces"}}, "invalid_name"),
        ("conversations.create", {"data": {"name": "general"}}, "name_taken"),
        ("conversations.kick", {"data": {"channel": team.general, "user": other.alice.id}}, "user_not_found"),
        ("conversations.invite", {"data": {"channel": team.general, "users": ""}}, "invalid_arguments"),
        (
            "reactions.add",
            {"data": {"channel": team.general, "timestamp": "1.000001", "name": "x"}},
            "message_not_found",
        ),
        (
            "reactions.add",
            {"data": {"channel": team.general, "timestamp": "1.000001", "name": "bad name!"}},
            "invalid_name",
        ),
        ("users.info", {"params": {"user": other.alice.id}}, "user_not_found"),
        ("users.info", {"params": {}}, "invalid_arguments"),
        ("users.profile.set", {"json": {"profile": {"is_admin": "true"}}}, "invalid_arguments"),
        ("users.profile.set", {"json": {"profile": "{broken"}}, "invalid_arguments"),
        ("no.such.method", {}, "unknown_method"),
    ]
    async with httpx.AsyncClient(base_url=origin.api, headers=auth) as client:
        for method, kwargs, code in cases:
            verb = "GET" if "params" in kwargs else "POST"
            resp = await client.request(verb, method, **kwargs)  # type: ignore[arg-type]
            body = resp.json()
            assert body["ok"] is False, (method, kwargs)
            assert body["error"] == code, (method, kwargs, body)
            if code == "invalid_arguments":
                assert body["detail"], body
        # Another workspace's token sees none of this workspace.
        foreign = {"Authorization": f"Bearer {other.alice.token}"}
        for method, params in (
            ("conversations.info", {"channel": team.general}),
            ("conversations.history", {"channel": team.general}),
            ("conversations.members", {"channel": team.private}),
            ("users.info", {"user": team.alice.id}),
        ):
            body = (await client.get(method, params=params, headers=foreign)).json()
            assert body["ok"] is False and body["error"] in ("channel_not_found", "user_not_found")
    assert await current_offset(origin.store, team.id) == before


@pytest.mark.parametrize("how", ["bearer", "form", "query", "json"])
async def test_token_and_arguments_arrive_every_slack_way(origin: Origin, how: str) -> None:
    team = origin.team
    args = {"channel": team.general}
    async with httpx.AsyncClient(base_url=origin.api) as client:
        if how == "bearer":
            resp = await client.post(
                "conversations.info", data=args, headers={"Authorization": f"Bearer {team.bob.token}"}
            )
        elif how == "form":
            resp = await client.post("conversations.info", data={**args, "token": team.bob.token})
        elif how == "query":
            resp = await client.get("conversations.info", params={**args, "token": team.bob.token})
        else:
            resp = await client.post(
                f"conversations.info?channel={team.general}",
                content=b"",
                headers={"Authorization": f"Bearer {team.bob.token}", "content-type": "application/json"},
            )
    assert resp.json()["channel"]["id"] == team.general
