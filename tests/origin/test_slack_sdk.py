"""The official slack_sdk clients, pointed at a real origin process, run a realistic session."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from origin.service import users
from tests.conftest import ServerProcess
from tests.origin.conftest import Origin, start_origin


def test_webclient_session(origin: Origin) -> None:
    team = origin.team
    alice = WebClient(token=team.alice.token, base_url=origin.api)
    bob = WebClient(token=team.bob.token, base_url=origin.api)

    auth = alice.auth_test()
    assert auth["user_id"] == team.alice.id and auth["team_id"] == team.id

    posted = alice.chat_postMessage(channel=team.general, text="hello world")
    ts = posted["ts"]
    reply = bob.chat_postMessage(channel=team.general, text="hi back", thread_ts=ts)
    assert reply["message"]["thread_ts"] == ts
    edited = alice.chat_update(channel=team.general, ts=ts, text="hello, edited")
    assert edited["message"]["edited"]["user"] == team.alice.id
    bob.reactions_add(channel=team.general, timestamp=ts, name="thumbsup")
    got = alice.reactions_get(channel=team.general, timestamp=ts)
    assert got["message"]["reactions"] == [{"name": "thumbsup", "users": [team.bob.id], "count": 1}]
    with pytest.raises(SlackApiError) as err:
        bob.reactions_add(channel=team.general, timestamp=ts, name="thumbsup")
    assert err.value.response["error"] == "already_reacted"

    thread = alice.conversations_replies(channel=team.general, ts=ts)
    assert [m["text"] for m in thread["messages"]] == ["hello, edited", "hi back"]
    assert thread["messages"][0]["reply_count"] == 1

    for i in range(25):
        alice.chat_postMessage(channel=team.general, text=f"page filler {i}")
    doomed = alice.chat_postMessage(channel=team.general, text="delete me")
    alice.chat_delete(channel=team.general, ts=doomed["ts"])

    texts: list[str] = []
    for page in alice.conversations_history(channel=team.general, limit=7):
        texts += [m["text"] for m in page["messages"]]
    assert texts[0] == "page filler 24" and texts[-1] == "hello, edited"
    assert "delete me" not in texts and "hi back" not in texts
    assert len(texts) == 26

    members: list[str] = []
    for page in alice.users_list(limit=2):
        members += [u["id"] for u in page["members"]]
    assert sorted(members) == sorted(u.id for u in team.users)

    bad_calls = (
        lambda: alice.conversations_info(channel="CNOTREAL000"),
        lambda: alice.users_info(user="UNOTREAL000"),
        lambda: alice.chat_update(channel=team.general, ts="1.000001", text="x"),
        lambda: bob.chat_update(channel=team.general, ts=ts, text="not mine"),
        lambda: bob.chat_delete(channel=team.general, ts=ts),
        lambda: WebClient(token="xoxp-bogus", base_url=origin.api).auth_test(),
        lambda: WebClient(base_url=origin.api).auth_test(),
        lambda: alice.conversations_history(channel=team.general, cursor="garbage!"),
        lambda: alice.chat_postMessage(channel=team.general, text=""),
        lambda: alice.chat_postMessage(channel=team.general, text="x" * 40_001),
    )
    codes = []
    for bad in bad_calls:
        with pytest.raises(SlackApiError) as err:
            bad()
        assert err.value.response["ok"] is False
        codes.append(err.value.response["error"])
    assert codes == [
        "channel_not_found",
        "user_not_found",
        "message_not_found",
        "cant_update_message",
        "cant_delete_message",
        "invalid_auth",
        "not_authed",
        "invalid_cursor",
        "no_text",
        "msg_too_long",
    ]


async def test_async_webclient_session(origin: Origin) -> None:
    team = origin.team
    carol = AsyncWebClient(token=team.carol.token, base_url=origin.api)
    with pytest.raises(SlackApiError) as err:
        await carol.conversations_history(channel=team.private)
    assert err.value.response["error"] == "channel_not_found"
    created = await carol.conversations_create(name="carols-room")
    room = created["channel"]["id"]
    await carol.conversations_invite(channel=room, users=team.alice.id)
    await carol.conversations_setTopic(channel=room, topic="plans")
    info = await carol.conversations_info(channel=room)
    assert info["channel"]["topic"]["value"] == "plans" and info["channel"]["num_members"] == 2
    dm = await carol.conversations_open(users=team.alice.id, return_im=True)
    assert dm["channel"]["is_im"]
    await carol.chat_postMessage(channel=dm["channel"]["id"], text="psst")
    history = await carol.conversations_history(channel=dm["channel"]["id"])
    assert [m["text"] for m in history["messages"]] == ["psst"]
    listed = await carol.conversations_list(types="public_channel,im")
    ids = {c["id"] for c in listed["channels"]}
    assert {room, team.general, dm["channel"]["id"]} <= ids and team.private not in ids
    await carol.users_profile_set(profile={"status_text": "busy", "title": "Chief"})
    me = await carol.users_info(user=team.carol.id)
    assert me["user"]["profile"]["status_text"] == "busy"
    by_email = await carol.users_lookupByEmail(email="alice@example.com")
    assert by_email["user"]["id"] == team.alice.id
    start = await carol.rtm_start()
    assert {u["id"] for u in start["users"]} == {u.id for u in team.users}
    await carol.conversations_rename(channel=room, name="carols-lounge")
    await carol.conversations_archive(channel=room)
    with pytest.raises(SlackApiError) as err:
        await carol.chat_postMessage(channel=room, text="too late")
    assert err.value.response["error"] == "is_archived"
    revoked = await carol.auth_revoke()
    assert revoked["revoked"] is True
    with pytest.raises(SlackApiError) as err:
        await carol.auth_test()
    assert err.value.response["error"] == "token_revoked"
    assert (await users.get_user(origin.store, team.alice.caller, team.carol.id))["name"] == "carol"


async def test_rate_limit_answers_429_with_retry_after(
    start_server: type[ServerProcess], tmp_path: object
) -> None:
    server, store, team = await start_origin(
        start_server, [f"sqlite:///{tmp_path}/rl.db"], "--rate-limits", "4:5"
    )
    try:
        client = WebClient(token=team.alice.token, base_url=server.url + "/api/")
        for _ in range(5):
            client.users_info(user=team.alice.id)
        with pytest.raises(SlackApiError) as err:
            client.users_info(user=team.alice.id)
        assert err.value.response.status_code == 429
        assert err.value.response["error"] == "ratelimited"
        assert int(err.value.response.headers["Retry-After"]) >= 1
    finally:
        await store.close()
