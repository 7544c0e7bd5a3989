"""Posts with Slack's ``client_msg_id`` are posted once: a retry gets the original message back.

On SQLite and on MariaDB (two shards): the ``store`` and ``app`` fixtures run both.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from origin.models import JSON
from origin.service import history as reading
from origin.service import messages
from origin.service.auth import Caller
from origin.store.shards import Store
from tests.factories import make_team
from tests.origin.conftest import InProcess
from wire.errors import SlackError


async def history(store: Store, caller: Caller, channel: str) -> list[JSON]:
    found, _, _ = await reading.history(store, caller, channel, 0, None, False, 100, None)
    return found


async def test_the_same_client_msg_id_twice_is_one_message_with_the_same_ts(store: Store) -> None:
    team = await make_team(store)
    msg_id = str(uuid.uuid4())
    first, offset = await messages.post(store, team.alice.caller, team.general, "once", client_msg_id=msg_id)
    again, again_offset = await messages.post(
        store, team.alice.caller, team.general, "once", client_msg_id=msg_id
    )
    assert again == first and first["client_msg_id"] == msg_id and offset > 0
    assert again_offset == 0  # nothing new was logged
    listed = await history(store, team.bob.caller, team.general)
    assert [(m["text"], m["ts"], m.get("client_msg_id")) for m in listed] == [("once", first["ts"], msg_id)]


async def test_retries_racing_each_other_still_post_once(store: Store) -> None:
    team = await make_team(store)
    msg_id = str(uuid.uuid4())
    posted = await asyncio.gather(
        *(
            messages.post(store, team.alice.caller, team.general, "raced", client_msg_id=msg_id)
            for _ in range(5)
        )
    )
    assert len({m["ts"] for m, _ in posted}) == 1
    assert sorted(offset > 0 for _, offset in posted) == [False] * 4 + [True]
    assert [m["text"] for m in await history(store, team.alice.caller, team.general)] == ["raced"]


async def test_the_key_is_per_user_and_workspace(store: Store) -> None:
    team, other = await make_team(store), await make_team(store, ("dave", "erin", "frank"))
    msg_id = "same-id"
    a, _ = await messages.post(store, team.alice.caller, team.general, "from alice", client_msg_id=msg_id)
    b, _ = await messages.post(store, team.bob.caller, team.general, "from bob", client_msg_id=msg_id)
    d, _ = await messages.post(store, other.alice.caller, other.general, "from dave", client_msg_id=msg_id)
    assert len({a["ts"], b["ts"]}) == 2 and d["text"] == "from dave"
    texts = [m["text"] for m in await history(store, team.carol.caller, team.general)]
    assert texts == ["from bob", "from alice"]
    assert [m["text"] for m in await history(store, other.bob.caller, other.general)] == ["from dave"]
    # ids that differ only in case are different ids (MariaDB's default collation would fold them)
    upper, _ = await messages.post(store, team.alice.caller, team.general, "upper", client_msg_id="SAME-ID")
    assert upper["ts"] != a["ts"]


async def test_posts_without_an_id_are_never_deduplicated(store: Store) -> None:
    team = await make_team(store)
    first, _ = await messages.post(store, team.alice.caller, team.general, "plain")
    second, _ = await messages.post(store, team.alice.caller, team.general, "plain")
    assert first["ts"] != second["ts"] and "client_msg_id" not in first
    assert len(await history(store, team.alice.caller, team.general)) == 2


async def test_a_retry_after_the_channel_was_archived_still_gets_the_original(store: Store) -> None:
    from origin.service import conversations

    team = await make_team(store)
    first, _ = await messages.post(store, team.alice.caller, team.private, "before", client_msg_id="k1")
    await conversations.set_archived(store, team.alice.caller, team.private, True)
    again, _ = await messages.post(store, team.alice.caller, team.private, "before", client_msg_id="k1")
    assert again["ts"] == first["ts"]
    with pytest.raises(SlackError, match="another channel"):
        await messages.post(store, team.alice.caller, team.general, "elsewhere", client_msg_id="k1")


async def test_chat_post_message_answers_a_retry_with_the_original(app: InProcess) -> None:
    team = app.team
    args = {"channel": team.general, "text": "over http", "client_msg_id": "0f0e9f2c-retry"}
    first = (await app.call("chat.postMessage", team.alice.token, json=args)).json()
    again = (await app.call("chat.postMessage", team.alice.token, data=args)).json()
    assert first["ok"] and again["ok"] and again["ts"] == first["ts"] and again["channel"] == team.general
    assert again["message"] == first["message"] and first["message"]["client_msg_id"] == args["client_msg_id"]
    listed = (await app.call("conversations.history", team.bob.token, json={"channel": team.general})).json()
    assert [m.get("client_msg_id") for m in listed["messages"]] == [args["client_msg_id"]]
    for bad in ("x" * 65, "has space", "ünïcode"):
        refused = (
            await app.call("chat.postMessage", team.alice.token, json={**args, "client_msg_id": bad})
        ).json()
        assert (refused["ok"], refused["error"]) == (False, "invalid_arguments")
