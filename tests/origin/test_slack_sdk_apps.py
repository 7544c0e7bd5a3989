"""slack_sdk's WebClient, as an app uses it, against a real origin process: blocks, attachments
and metadata as the SDK encodes them, posts by name and by user id, broadcasts, me messages,
ephemeral messages, permalinks, pins, reactions.list and the other methods of issue 15."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import HeaderBlock, SectionBlock
from slack_sdk.models.metadata import Metadata

from tests.origin.conftest import Origin


def test_an_app_session_with_slack_sdk(origin: Origin) -> None:
    team = origin.team
    alice = WebClient(token=team.alice.token, base_url=origin.api)
    bob = WebClient(token=team.bob.token, base_url=origin.api)

    blocks = [HeaderBlock(text="Release train"), SectionBlock(text="*caravel* ships today")]
    posted = alice.chat_postMessage(
        channel="#general",
        blocks=blocks,
        attachments=[{"fallback": "status", "title": "Status brigantine", "color": "good"}],
        metadata=Metadata(event_type="release", event_payload={"version": "1.2"}),
    )
    assert posted["channel"] == team.general and posted["message"]["text"] == ""
    assert [b["type"] for b in posted["message"]["blocks"]] == ["header", "section"]
    assert posted["message"]["metadata"] == {"event_type": "release", "event_payload": {"version": "1.2"}}
    updated = alice.chat_update(
        channel=team.general, ts=posted["ts"], text="fallback", blocks=[SectionBlock(text="schooner instead")]
    )
    assert updated["message"]["blocks"][0]["text"]["text"] == "schooner instead"
    assert updated["message"]["attachments"][0]["title"] == "Status brigantine"
    found = alice.search_messages(query="schooner")["messages"]["matches"]  # waits for her edit
    assert [m["ts"] for m in found] == [posted["ts"]]
    assert bob.search_messages(query="brigantine")["messages"]["total"] == 1

    dm = alice.chat_postMessage(channel=team.bob.id, text="a word, bob?")
    assert dm["channel"].startswith("D")
    reply = bob.chat_postMessage(channel=dm["channel"], text="sure", thread_ts=dm["ts"], reply_broadcast=True)
    assert reply["message"]["subtype"] == "thread_broadcast"
    assert reply["message"]["parent_user_id"] == team.alice.id
    history = alice.conversations_history(channel=dm["channel"])["messages"]
    assert [m["text"] for m in history] == ["sure", "a word, bob?"]
    me = bob.chat_meMessage(channel=team.general, text="waves")
    assert me["channel"] == team.general

    eph = alice.chat_postEphemeral(channel=team.general, user=team.bob.id, text="only for bob")
    assert eph["message_ts"]
    assert "only for bob" not in [
        m["text"] for m in bob.conversations_history(channel=team.general)["messages"]
    ]
    link = bob.chat_getPermalink(channel=team.general, message_ts=posted["ts"])
    assert link["permalink"] == f"{origin.url}/archives/{team.general}/p{posted['ts'].replace('.', '')}"

    bob.pins_add(channel=team.general, timestamp=posted["ts"])
    assert [i["message"]["ts"] for i in alice.pins_list(channel=team.general)["items"]] == [posted["ts"]]
    with pytest.raises(SlackApiError) as err:
        bob.pins_add(channel=team.general, timestamp=posted["ts"])
    assert err.value.response["error"] == "already_pinned"
    bob.pins_remove(channel=team.general, timestamp=posted["ts"])

    bob.reactions_add(channel=team.general, timestamp=posted["ts"], name="ship")
    assert [i["message"]["ts"] for i in bob.reactions_list()["items"]] == [posted["ts"]]

    channels: list[str] = []
    for page in bob.users_conversations(types="public_channel,private_channel,im", limit=1):
        channels += [c["id"] for c in page["channels"]]
    assert sorted(channels) == sorted([team.general, team.private, dm["channel"]])
    assert bob.conversations_close(channel=dm["channel"])["ok"]
    assert bob.conversations_close(channel=dm["channel"])["already_closed"] is True

    assert alice.emoji_list()["emoji"] == {}
    assert alice.usergroups_list()["usergroups"] == []
    assert alice.team_info()["team"]["id"] == team.id
    with pytest.raises(SlackApiError) as err:
        alice.bots_info(bot="BNOTABOT00")
    assert err.value.response["error"] == "bot_not_found"
