"""``pins.add|remove|list`` (with ``pin_added`` / ``pin_removed`` in the change log) and
``reactions.list``, with Slack's shapes and errors and the one visibility rule.

In-process origin on SQLite and on MariaDB (two shards).
"""

from __future__ import annotations

from tests.origin.calls import call, events_after, form, head
from tests.origin.conftest import InProcess


async def test_pins_add_list_remove(app: InProcess) -> None:
    team = app.team
    first = await call(app, "chat.postMessage", team.alice.token, channel=team.general, text="pin me")
    second = await call(app, "chat.postMessage", team.bob.token, channel=team.general, text="me too")
    before = await head(app.store, team.id)
    assert await form(app, "pins.add", team.bob.token, channel=team.general, timestamp=first["ts"]) == {
        "ok": True
    }
    assert (await call(app, "pins.add", team.carol.token, channel=team.general, timestamp=second["ts"]))["ok"]
    added = await events_after(app.store, team.id, before)
    assert [e["type"] for e in added] == ["pin_added", "pin_added"]
    event = added[0]
    assert event["user"] == team.bob.id and event["channel_id"] == event["channel"] == team.general
    assert event["channel_type"] == "C"
    item = event["item"]
    assert item["type"] == "message" and item["channel"] == team.general and item["created_by"] == team.bob.id
    assert item["message"]["ts"] == first["ts"] and item["message"]["pinned_to"] == [team.general]

    listed = await call(app, "pins.list", team.alice.token, channel=team.general)
    assert [i["message"]["text"] for i in listed["items"]] == ["me too", "pin me"]  # latest pin first
    assert listed["items"][1]["created_by"] == team.bob.id
    assert listed["items"][1]["message"]["permalink"].endswith(first["ts"].replace(".", ""))
    history = await call(app, "conversations.history", team.alice.token, channel=team.general)
    assert history["pin_count"] == 2
    assert all(m["pinned_to"] == [team.general] for m in history["messages"])

    again = await call(app, "pins.add", team.alice.token, channel=team.general, timestamp=first["ts"])
    assert again["error"] == "already_pinned"
    before = await head(app.store, team.id)
    assert (await call(app, "pins.remove", team.alice.token, channel=team.general, timestamp=first["ts"]))[
        "ok"
    ]
    [removed] = await events_after(app.store, team.id, before)
    assert removed["type"] == "pin_removed" and removed["has_pins"] is True
    assert removed["item"]["message"]["ts"] == first["ts"]
    gone = await call(app, "pins.remove", team.alice.token, channel=team.general, timestamp=first["ts"])
    assert gone["error"] == "no_pin"
    listed = await call(app, "pins.list", team.alice.token, channel=team.general)
    assert [i["message"]["ts"] for i in listed["items"]] == [second["ts"]]

    # deleting a pinned message takes its pin with it
    assert (await call(app, "chat.delete", team.bob.token, channel=team.general, ts=second["ts"]))["ok"]
    assert (await call(app, "pins.list", team.alice.token, channel=team.general))["items"] == []
    assert (await call(app, "conversations.history", team.alice.token, channel=team.general))[
        "pin_count"
    ] == 0


async def test_pin_errors(app: InProcess) -> None:
    team = app.team
    secret = await call(app, "chat.postMessage", team.alice.token, channel=team.private, text="secret")
    outside = await call(app, "conversations.create", team.alice.token, name="alices-room")
    room = outside["channel"]["id"]
    note = await call(app, "chat.postMessage", team.alice.token, channel=room, text="in the room")
    cases = [
        (team.carol, team.private, secret["ts"], "channel_not_found"),  # may not see it
        (team.carol, room, note["ts"], "not_in_channel"),  # may see it, is not in it
        (team.alice, team.general, "1.000001", "message_not_found"),
        (team.alice, team.general, "nope", "bad_timestamp"),
        (team.alice, "C0NOSUCH", "1.000001", "channel_not_found"),
    ]
    for member, channel, ts, error in cases:
        for method in ("pins.add", "pins.remove"):
            body = await call(app, method, member.token, channel=channel, timestamp=ts)
            assert body["error"] == error, (method, channel, ts, body)
    assert (await call(app, "pins.add", team.alice.token, channel=team.general))[
        "error"
    ] == "no_item_specified"
    refused = await call(app, "pins.list", team.carol.token, channel=team.private)
    assert refused["error"] == "channel_not_found"
    assert (await call(app, "pins.list", team.carol.token, channel=room))["items"] == []  # public: may read


async def test_reactions_list_pages_the_messages_a_user_reacted_to(app: InProcess) -> None:
    team = app.team
    posts = []
    for i in range(5):
        posts.append(
            await call(app, "chat.postMessage", team.alice.token, channel=team.general, text=f"m{i}")
        )
    secret = await call(app, "chat.postMessage", team.alice.token, channel=team.private, text="private")
    for post in posts[:4]:
        reacted = await call(
            app, "reactions.add", team.bob.token, channel=team.general, timestamp=post["ts"], name="tada"
        )
        assert reacted["ok"], reacted
    await call(
        app, "reactions.add", team.bob.token, channel=team.general, timestamp=posts[0]["ts"], name="eyes"
    )
    await call(
        app, "reactions.add", team.carol.token, channel=team.general, timestamp=posts[1]["ts"], name="tada"
    )
    await call(
        app, "reactions.add", team.bob.token, channel=team.private, timestamp=secret["ts"], name="lock"
    )

    mine = await call(app, "reactions.list", team.bob.token)
    # the latest reaction first; one item per message, with all its reactions
    assert [i["message"]["text"] for i in mine["items"]] == ["private", "m0", "m3", "m2", "m1"]
    m0 = mine["items"][1]
    assert m0["type"] == "message" and m0["channel"] == team.general
    assert {r["name"]: r["users"] for r in m0["message"]["reactions"]} == {
        "tada": [team.bob.id],
        "eyes": [team.bob.id],
    }
    assert m0["message"]["permalink"].endswith(posts[0]["ts"].replace(".", ""))
    assert mine["items"][4]["message"]["reactions"][0]["users"] == [team.bob.id, team.carol.id]

    pages, cursor = [], None
    while True:
        page = await call(
            app, "reactions.list", team.bob.token, limit=2, **({"cursor": cursor} if cursor else {})
        )
        pages.append([i["message"]["text"] for i in page["items"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [["private", "m0"], ["m3", "m2"], ["m1"]]

    # carol sees bob's reactions only where she may see the messages
    seen = await call(app, "reactions.list", team.carol.token, user=team.bob.id)
    assert [i["message"]["text"] for i in seen["items"]] == ["m0", "m3", "m2", "m1"]
    assert (await call(app, "reactions.list", team.carol.token))["items"][0]["message"]["text"] == "m1"
    assert (await call(app, "reactions.list", team.carol.token, user="U0NOBODY"))["error"] == "user_not_found"
    assert (await call(app, "reactions.list", team.carol.token, cursor="bad"))["error"] == "invalid_cursor"
    assert (await call(app, "reactions.list", team.alice.token))["items"] == []
