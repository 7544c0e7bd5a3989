"""``chat.postEphemeral``: one ``ephemeral_message`` event for one recipient, never a stored
message; ``chat.getPermalink``: a link for a message the caller may see.

In-process origin on SQLite and on MariaDB (two shards).
"""

from __future__ import annotations

from tests.origin.calls import call, events_after, form, head
from tests.origin.conftest import InProcess
from wire.events import EVENT_TYPES


async def test_an_ephemeral_message_is_one_event_for_one_user_and_never_stored(app: InProcess) -> None:
    team = app.team
    before = await head(app.store, team.id)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "only you can see this wapiti"}}]
    sent = await call(
        app,
        "chat.postEphemeral",
        team.alice.token,
        channel=team.general,
        user=team.bob.id,
        text="psst wapiti",
        blocks=blocks,
    )
    assert sent == {"ok": True, "message_ts": sent["message_ts"]}
    [event] = await events_after(app.store, team.id, before)
    assert event["type"] == "ephemeral_message" and event["type"] in EVENT_TYPES
    assert event["user"] == team.bob.id  # the one recipient
    assert event["channel"] == team.general and event["channel_type"] == "C"
    message = event["message"]
    assert message["user"] == team.alice.id and message["text"] == "psst wapiti"
    assert message["ts"] == sent["message_ts"] and message["is_ephemeral"] is True
    assert message["blocks"] == blocks

    for token in (team.alice.token, team.bob.token):
        assert (await call(app, "conversations.history", token, channel=team.general))["messages"] == []
        found = await call(app, "search.messages", token, query="wapiti")
        assert found["messages"]["matches"] == []
    async with app.store.read(team.id) as conn:
        row = await conn.fetchone("SELECT COUNT(*) FROM messages WHERE channel_id = ?", [team.general])
    assert row is not None and row[0] == 0


async def test_ephemeral_by_name_in_a_thread_and_the_membership_rules(app: InProcess) -> None:
    team = app.team
    parent = await call(app, "chat.postMessage", team.alice.token, channel=team.private, text="thread")
    before = await head(app.store, team.id)
    sent = await form(
        app,
        "chat.postEphemeral",
        team.alice.token,
        channel="#secret-plans",
        user=team.bob.id,
        text="in the thread",
        thread_ts=parent["ts"],
    )
    assert sent["ok"], sent
    [event] = await events_after(app.store, team.id, before)
    assert event["channel"] == team.private and event["channel_type"] == "G"
    assert event["message"]["thread_ts"] == parent["ts"]
    thread = await call(app, "conversations.replies", team.bob.token, channel=team.private, ts=parent["ts"])
    assert [m["ts"] for m in thread["messages"]] == [parent["ts"]]  # not a reply

    # carol is not in the private channel: she can neither send there nor receive there
    refused = await call(
        app, "chat.postEphemeral", team.carol.token, channel=team.private, user=team.bob.id, text="x"
    )
    assert refused["error"] == "channel_not_found"
    refused = await call(
        app, "chat.postEphemeral", team.alice.token, channel=team.private, user=team.carol.id, text="x"
    )
    assert refused["error"] == "user_not_in_channel"
    refused = await call(
        app, "chat.postEphemeral", team.alice.token, channel=team.private, user="U0NOBODY", text="x"
    )
    assert refused["error"] == "user_not_in_channel"
    created = await call(app, "conversations.create", team.bob.token, name="bobs-room")
    refused = await call(
        app,
        "chat.postEphemeral",
        team.alice.token,
        channel=created["channel"]["id"],
        user=team.bob.id,
        text="x",
    )
    assert refused["error"] == "not_in_channel"
    refused = await call(app, "chat.postEphemeral", team.alice.token, channel=team.general, user=team.bob.id)
    assert refused["error"] == "no_text"
    assert await head(app.store, team.id) == before + 2  # the first ephemeral and the create


async def test_permalinks(app: InProcess) -> None:
    team = app.team
    posted = await call(app, "chat.postMessage", team.alice.token, channel=team.general, text="link me")
    reply = await call(
        app, "chat.postMessage", team.bob.token, channel=team.general, text="reply", thread_ts=posted["ts"]
    )
    base = app.settings.base_url
    got = await call(
        app, "chat.getPermalink", team.carol.token, channel=team.general, message_ts=posted["ts"]
    )
    digits = posted["ts"].replace(".", "")
    assert got == {
        "ok": True,
        "channel": team.general,
        "permalink": f"{base}/archives/{team.general}/p{digits}",
    }
    got = await call(app, "chat.getPermalink", team.carol.token, channel=team.general, message_ts=reply["ts"])
    assert got["permalink"] == (
        f"{base}/archives/{team.general}/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={posted['ts']}&cid={team.general}"
    )
    # the same link as search gives
    found = await call(app, "search.messages", team.alice.token, query="link me")  # waits for her post
    assert found["messages"]["matches"][0]["permalink"] == f"{base}/archives/{team.general}/p{digits}"

    secret = await call(app, "chat.postMessage", team.alice.token, channel=team.private, text="hidden")
    refused = await call(
        app, "chat.getPermalink", team.carol.token, channel=team.private, message_ts=secret["ts"]
    )
    assert refused["error"] == "channel_not_found"
    refused = await call(
        app, "chat.getPermalink", team.carol.token, channel=team.general, message_ts="1.000001"
    )
    assert refused["error"] == "message_not_found"
    refused = await call(app, "chat.getPermalink", team.carol.token, channel=team.general, message_ts="nope")
    assert refused["error"] == "message_not_found"
