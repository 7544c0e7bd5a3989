"""Where a post goes (a channel id, a ``#name`` or name, a user id: that DM, opened when needed),
``chat.meMessage``, and threads as Slack has them: replies name their parent's author, and a
``reply_broadcast`` reply is one ``thread_broadcast`` message in the thread and the channel.

In-process origin on SQLite and on MariaDB (two shards).
"""

from __future__ import annotations

from origin.service import conversations
from tests.factories import make_team
from tests.origin.calls import JSON, call, events_after, form, head
from tests.origin.conftest import InProcess


async def history(app: InProcess, token: str, channel: str) -> list[JSON]:
    body = await call(app, "conversations.history", token, channel=channel)
    assert body["ok"], body
    messages: list[JSON] = body["messages"]
    return messages


async def replies(app: InProcess, token: str, channel: str, ts: str) -> list[JSON]:
    body = await call(app, "conversations.replies", token, channel=channel, ts=ts)
    assert body["ok"], body
    messages: list[JSON] = body["messages"]
    return messages


async def test_a_channel_may_be_named_with_or_without_a_hash(app: InProcess) -> None:
    team = app.team
    by_hash = await form(app, "chat.postMessage", team.bob.token, channel="#general", text="by #name")
    by_name = await call(app, "chat.postMessage", team.bob.token, channel="general", text="by name")
    by_case = await call(app, "chat.postMessage", team.bob.token, channel="#General", text="any case")
    for posted in (by_hash, by_name, by_case):
        assert posted["ok"] and posted["channel"] == team.general, posted
    assert [m["text"] for m in await history(app, team.carol.token, team.general)] == [
        "any case",
        "by name",
        "by #name",
    ]
    private = await call(
        app, "chat.postMessage", team.bob.token, channel="#secret-plans", text="members only"
    )
    assert private["ok"] and private["channel"] == team.private
    me = await call(app, "chat.meMessage", team.bob.token, channel="secret-plans", text="waves")
    assert me["ok"] and me["channel"] == team.private


async def test_names_follow_the_visibility_rule(app: InProcess) -> None:
    team = app.team
    before = await head(app.store, team.id)
    for channel in ("#secret-plans", "secret-plans", "#nowhere", "#", "", "x" * 200, team.private):
        refused = await call(app, "chat.postMessage", team.carol.token, channel=channel, text="let me in")
        assert refused["ok"] is False, channel
        assert refused["error"] in ("channel_not_found", "invalid_arguments"), refused
    assert await head(app.store, team.id) == before  # nothing was posted
    # a channel of another workspace is not found by its name
    other = await make_team(app.store, ("dave", "erin", "frank"))
    await conversations.create(app.store, other.alice.caller, "elsewhere", False)
    refused = await call(app, "chat.postMessage", team.carol.token, channel="#elsewhere", text="hi")
    assert refused["error"] == "channel_not_found"
    created = await call(app, "conversations.create", team.alice.token, name="only-here")
    assert created["ok"]
    # public channel by name, not a member: the usual not_in_channel
    refused = await call(app, "chat.postMessage", team.carol.token, channel="only-here", text="hi")
    assert refused["error"] == "not_in_channel"


async def test_a_user_id_posts_to_the_dm_opening_it_once(app: InProcess) -> None:
    team = app.team
    before = await head(app.store, team.id)
    first = await call(app, "chat.postMessage", team.alice.token, channel=team.carol.id, text="hello carol")
    assert first["ok"] and first["channel"].startswith("D"), first
    dm = first["channel"]
    created, message = await events_after(app.store, team.id, before)
    assert created["type"] == "channel_created" and created["channel"]["id"] == dm
    assert sorted(created["members"]) == sorted([team.alice.id, team.carol.id])
    assert message["type"] == "message" and message["channel"] == dm and message["channel_type"] == "D"

    again = await call(app, "chat.postMessage", team.alice.token, channel=team.carol.id, text="again")
    back = await call(app, "chat.postMessage", team.carol.token, channel=team.alice.id, text="hi alice")
    assert again["channel"] == back["channel"] == dm
    opened = await call(app, "conversations.open", team.alice.token, users=team.carol.id)
    assert opened["channel"]["id"] == dm and opened["already_open"] is True
    assert [m["text"] for m in await history(app, team.carol.token, dm)] == [
        "hi alice",
        "again",
        "hello carol",
    ]
    assert (await call(app, "conversations.history", team.bob.token, channel=dm))[
        "error"
    ] == "channel_not_found"

    # oneself: the self-DM; an unknown or deactivated user: channel_not_found, nothing opened
    mine = await call(app, "chat.postMessage", team.bob.token, channel=team.bob.id, text="note to self")
    assert mine["ok"] and mine["channel"].startswith("D")
    for ghost in ("U0NOSUCHUSER", "W0NOSUCHUSER"):
        refused = await call(app, "chat.postMessage", team.bob.token, channel=ghost, text="boo")
        assert refused["error"] == "channel_not_found"
    me = await call(app, "chat.meMessage", team.bob.token, channel=team.alice.id, text="nods")
    assert me["ok"] and me["channel"] != dm


async def test_me_message(app: InProcess) -> None:
    team = app.team
    before = await head(app.store, team.id)
    posted = await call(app, "chat.meMessage", team.bob.token, channel=team.general, text="is out for lunch")
    assert posted == {"ok": True, "channel": team.general, "ts": posted["ts"]}
    [event] = await events_after(app.store, team.id, before)
    assert event["type"] == "message" and event["subtype"] == "me_message"
    [listed] = await history(app, team.alice.token, team.general)
    assert listed["subtype"] == "me_message" and listed["text"] == "is out for lunch"
    assert (await call(app, "chat.meMessage", team.bob.token, channel=team.general))["error"] == "no_text"
    # the author may edit it like any message
    edited = await call(
        app, "chat.update", team.bob.token, channel=team.general, ts=posted["ts"], text="is back"
    )
    assert edited["ok"] and edited["message"]["subtype"] == "me_message"


async def test_replies_name_their_parents_author(app: InProcess) -> None:
    team = app.team
    parent = await call(app, "chat.postMessage", team.alice.token, channel=team.general, text="parent")
    before = await head(app.store, team.id)
    reply = await call(
        app, "chat.postMessage", team.bob.token, channel=team.general, text="reply", thread_ts=parent["ts"]
    )
    assert reply["message"]["parent_user_id"] == team.alice.id
    # a reply to the reply belongs to the same thread: the parent's author still
    deeper = await call(
        app, "chat.postMessage", team.carol.token, channel=team.general, text="deeper", thread_ts=reply["ts"]
    )
    assert (
        deeper["message"]["thread_ts"] == parent["ts"]
        and deeper["message"]["parent_user_id"] == team.alice.id
    )
    thread = await replies(app, team.carol.token, team.general, parent["ts"])
    assert "parent_user_id" not in thread[0]
    assert [m.get("parent_user_id") for m in thread[1:]] == [team.alice.id, team.alice.id]
    event = (await events_after(app.store, team.id, before))[0]
    assert event["parent_user_id"] == team.alice.id and event["parent"]["reply_count"] == 1


async def test_a_broadcast_reply_is_one_message_in_the_thread_and_the_channel(app: InProcess) -> None:
    team = app.team
    parent = await call(app, "chat.postMessage", team.alice.token, channel=team.general, text="root")
    quiet = await call(
        app, "chat.postMessage", team.bob.token, channel=team.general, text="quiet", thread_ts=parent["ts"]
    )
    before = await head(app.store, team.id)
    loud = await form(
        app,
        "chat.postMessage",
        team.bob.token,
        channel="#general",
        text="loud",
        thread_ts=parent["ts"],
        reply_broadcast="true",
    )
    assert loud["ok"], loud
    message = loud["message"]
    assert message["subtype"] == "thread_broadcast" and message["thread_ts"] == parent["ts"]
    assert message["parent_user_id"] == team.alice.id
    [event] = await events_after(app.store, team.id, before)  # logged once
    assert event["type"] == "message" and event["subtype"] == "thread_broadcast"
    assert event["ts"] == loud["ts"] and event["parent"]["reply_count"] == 2

    channel = await history(app, team.carol.token, team.general)
    assert [(m["text"], m.get("subtype")) for m in channel] == [("loud", "thread_broadcast"), ("root", None)]
    assert channel[1]["reply_count"] == 2  # the broadcast counts as a reply
    thread = await replies(app, team.carol.token, team.general, parent["ts"])
    assert [m["ts"] for m in thread] == [parent["ts"], quiet["ts"], loud["ts"]]
    assert quiet["message"].get("subtype") is None

    # one message: an edit shows in both places, a deletion removes it from both
    await call(app, "chat.update", team.bob.token, channel=team.general, ts=loud["ts"], text="louder")
    assert (await history(app, team.carol.token, team.general))[0]["text"] == "louder"
    assert (await replies(app, team.carol.token, team.general, parent["ts"]))[-1]["text"] == "louder"
    assert (await call(app, "chat.delete", team.bob.token, channel=team.general, ts=loud["ts"]))["ok"]
    assert [m["text"] for m in await history(app, team.carol.token, team.general)] == ["root"]
    thread = await replies(app, team.carol.token, team.general, parent["ts"])
    assert [m["text"] for m in thread] == ["root", "quiet"] and thread[0]["reply_count"] == 1

    # reply_broadcast without a thread is an ordinary message
    plain = await call(
        app, "chat.postMessage", team.bob.token, channel=team.general, text="x", reply_broadcast=True
    )
    assert "subtype" not in plain["message"]
