"""Messages as apps post them: blocks, attachments and metadata are stored and returned, in
history, replies, events and search; a message of blocks or attachments alone is valid; bad
ones are refused with Slack's errors and nothing is stored.

In-process origin on SQLite and on MariaDB (two shards).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.origin.calls import JSON, call, events_after, form, head
from tests.origin.conftest import InProcess

BLOCKS: list[JSON] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Quarterly capybara report"}},
    {
        "type": "section",
        "block_id": "intro",
        "text": {"type": "mrkdwn", "text": "Numbers are *up* this quarter"},
        "fields": [{"type": "mrkdwn", "text": "Region: marmalade"}],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "compiled by the okapi team"}]},
    {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "see the "},
                    {"type": "text", "text": "pango", "style": {"bold": True}},
                    {"type": "text", "text": "lin notes at "},
                    {"type": "link", "url": "https://example.com/x", "text": "wiki"},
                ],
            },
            {
                "type": "rich_text_list",
                "style": "bullet",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "item quetzal"}]}
                ],
            },
        ],
    },
    {"type": "divider"},
]
ATTACHMENTS: list[JSON] = [
    {
        "fallback": "build fallback narwhal",
        "pretext": "pretext ibex",
        "title": "Build 42 lemur",
        "text": "attachment text tapir",
        "color": "#36a64f",
        "fields": [{"title": "Branch", "value": "main axolotl", "short": True}],
    }
]
METADATA: JSON = {"event_type": "task_created", "event_payload": {"id": "TK-1", "points": 3}}


async def history(app: InProcess, token: str, channel: str) -> list[JSON]:
    body = await call(app, "conversations.history", token, channel=channel)
    assert body["ok"], body
    messages: list[JSON] = body["messages"]
    return messages


async def search(app: InProcess, token: str, query: str) -> list[JSON]:
    body = await call(app, "search.messages", token, query=query)
    assert body["ok"], body
    matches: list[JSON] = body["messages"]["matches"]
    return matches


@pytest.mark.parametrize("send", [call, form], ids=["json", "form"])
async def test_blocks_attachments_and_metadata_are_stored_and_returned(app: InProcess, send: Any) -> None:
    team = app.team
    before = await head(app.store, team.id)
    posted = await send(
        app,
        "chat.postMessage",
        team.alice.token,
        channel=team.general,
        text="fallback text",
        blocks=BLOCKS,
        attachments=ATTACHMENTS,
        metadata=METADATA,
    )
    assert posted["ok"], posted
    message = posted["message"]
    assert message["blocks"] == BLOCKS and message["attachments"] == ATTACHMENTS
    assert message["metadata"] == METADATA and message["text"] == "fallback text"

    listed = await history(app, team.bob.token, team.general)
    assert listed[0]["ts"] == posted["ts"] and listed[0]["blocks"] == BLOCKS
    assert listed[0]["attachments"] == ATTACHMENTS and listed[0]["metadata"] == METADATA
    replies = await call(app, "conversations.replies", team.bob.token, channel=team.general, ts=posted["ts"])
    assert replies["messages"][0]["blocks"] == BLOCKS

    [event] = await events_after(app.store, team.id, before)
    assert event["type"] == "message" and event["blocks"] == BLOCKS
    assert event["attachments"] == ATTACHMENTS and event["metadata"] == METADATA


async def test_a_message_of_blocks_or_attachments_alone_is_valid(app: InProcess) -> None:
    team = app.team
    only_blocks = await call(app, "chat.postMessage", team.alice.token, channel=team.general, blocks=BLOCKS)
    assert only_blocks["ok"] and only_blocks["message"]["text"] == ""
    only_attachments = await form(
        app, "chat.postMessage", team.alice.token, channel=team.general, attachments=ATTACHMENTS
    )
    assert only_attachments["ok"] and only_attachments["message"]["attachments"] == ATTACHMENTS
    for empty in ({}, {"blocks": []}, {"attachments": []}, {"text": "  ", "blocks": [], "attachments": []}):
        refused = await call(app, "chat.postMessage", team.alice.token, channel=team.general, **empty)
        assert refused["error"] == "no_text", empty
    # metadata alone says nothing to a reader
    refused = await call(app, "chat.postMessage", team.alice.token, channel=team.general, metadata=METADATA)
    assert refused["error"] == "no_text"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("blocks", "not json", "invalid_blocks"),
        ("blocks", {"type": "section"}, "invalid_blocks"),
        ("blocks", ["section"], "invalid_blocks"),
        ("blocks", [{"text": "no type"}], "invalid_blocks"),
        ("blocks", [{"type": 7}], "invalid_blocks"),
        ("blocks", [{"type": "section", "block_id": ["x"]}], "invalid_blocks"),
        ("blocks", [{"type": "divider"}] * 51, "invalid_blocks"),
        (
            "blocks",
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 201_000}}],
            "invalid_blocks",
        ),
        ("attachments", "{", "invalid_attachments"),
        ("attachments", {"text": "an object, not a list"}, "invalid_attachments"),
        ("attachments", ["text"], "invalid_attachments"),
        ("attachments", [{"text": 5}], "invalid_attachments"),
        ("attachments", [{"fields": {"title": "x"}}], "invalid_attachments"),
        ("attachments", [{"fields": [{"title": 1, "value": "v"}]}], "invalid_attachments"),
        ("attachments", [{"blocks": [{"no": "type"}]}], "invalid_attachments"),
        ("attachments", [{"text": "a"}] * 101, "invalid_attachments"),
        ("metadata", "[]", "invalid_metadata"),
        ("metadata", {"event_type": "x"}, "invalid_metadata"),
        ("metadata", {"event_type": "", "event_payload": {}}, "invalid_metadata"),
        ("metadata", {"event_type": "x", "event_payload": []}, "invalid_metadata"),
        ("metadata", {"event_type": "x", "event_payload": {}, "other": 1}, "invalid_metadata"),
        ("metadata", {"event_type": "x", "event_payload": {"big": "y" * 17_000}}, "invalid_metadata"),
    ],
)
async def test_bad_blocks_attachments_or_metadata_are_refused_and_nothing_is_stored(
    app: InProcess, field: str, value: Any, error: str
) -> None:
    team = app.team
    before = await head(app.store, team.id)
    for send in (call, form):
        body = await send(
            app, "chat.postMessage", team.alice.token, channel=team.general, text="hi", **{field: value}
        )
        assert body["ok"] is False and body["error"] == error, body
        assert body["detail"]
    assert await history(app, team.alice.token, team.general) == []
    assert await head(app.store, team.id) == before


async def test_the_text_of_blocks_and_attachments_is_searchable(app: InProcess) -> None:
    team = app.team
    posted = await call(
        app,
        "chat.postMessage",
        team.alice.token,
        channel=team.general,
        blocks=BLOCKS,
        attachments=ATTACHMENTS,
    )
    plain = await call(app, "chat.postMessage", team.alice.token, channel=team.general, text="capybara plain")
    assert await search(app, team.alice.token, "capybara")  # the poster's search waits for the index
    for word in (
        "capybara",  # header
        "marmalade",  # section field
        "okapi",  # context
        "pangolin",  # rich text: the runs of one section join as written
        "quetzal",  # rich text list
        "wiki",  # a link's label
        "narwhal",  # fallback
        "ibex",  # pretext
        "lemur",  # title
        "tapir",  # attachment text
        "axolotl",  # field value
    ):
        found = {m["ts"] for m in await search(app, team.bob.token, word)}
        assert posted["ts"] in found, word
    both = await search(app, team.bob.token, "capybara")
    assert {m["ts"] for m in both} == {posted["ts"], plain["ts"]}
    match = next(m for m in both if m["ts"] == posted["ts"])
    assert match["blocks"] == BLOCKS and match["attachments"] == ATTACHMENTS
    assert await search(app, team.bob.token, '"quarterly capybara report"')  # a phrase in a header
    assert await search(app, team.bob.token, "has:link okapi")  # the link is in the blocks
    assert await search(app, team.bob.token, "divider") == []  # a block's type is no text
    assert await search(app, team.bob.token, "36a64f") == []  # nor an attachment's colour


async def test_update_replaces_what_it_is_given_and_keeps_the_rest(app: InProcess) -> None:
    team = app.team
    posted = await call(
        app,
        "chat.postMessage",
        team.alice.token,
        channel=team.general,
        text="v1 walrus",
        blocks=BLOCKS,
        attachments=ATTACHMENTS,
        metadata=METADATA,
    )
    before = await head(app.store, team.id)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "edited hedgehog"}}]
    updated = await form(
        app, "chat.update", team.alice.token, channel=team.general, ts=posted["ts"], blocks=new_blocks
    )
    assert updated["ok"], updated
    message = updated["message"]
    # blocks replaced; attachments and metadata kept (Slack keeps what an update leaves out)
    assert message["blocks"] == new_blocks and message["attachments"] == ATTACHMENTS
    assert message["metadata"] == METADATA and message["text"] == "" and "edited" in message
    [event] = await events_after(app.store, team.id, before)
    assert event["type"] == "message_changed"
    assert event["message"]["blocks"] == new_blocks and event["previous_message"]["blocks"] == BLOCKS
    assert [m["ts"] for m in await search(app, team.alice.token, "hedgehog")] == [posted["ts"]]  # her edit
    assert await search(app, team.bob.token, "okapi") == []  # the old blocks' words are gone
    assert [m["ts"] for m in await search(app, team.bob.token, "tapir")] == [posted["ts"]]

    # an empty list removes; then nothing says anything and the update is refused
    cleared = await call(
        app,
        "chat.update",
        team.alice.token,
        channel=team.general,
        ts=posted["ts"],
        text="only text now",
        blocks=[],
        attachments=[],
    )
    assert "blocks" not in cleared["message"] and "attachments" not in cleared["message"]
    assert (await history(app, team.bob.token, team.general))[0]["text"] == "only text now"
    refused = await call(app, "chat.update", team.alice.token, channel=team.general, ts=posted["ts"], text="")
    assert refused["error"] == "no_text"
    refused = await call(
        app, "chat.update", team.alice.token, channel=team.general, ts=posted["ts"], text="x", blocks=[{}]
    )
    assert refused["error"] == "invalid_blocks"
    assert (await history(app, team.bob.token, team.general))[0]["text"] == "only text now"


async def test_slacks_largest_messages_fit(app: InProcess) -> None:
    team = app.team
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3000}} for _ in range(50)]
    attachments = [{"text": "z" * 1000} for _ in range(100)]
    for send in (call, form):
        posted = await send(
            app,
            "chat.postMessage",
            team.alice.token,
            channel=team.general,
            blocks=blocks,
            attachments=attachments,
        )
        assert posted["ok"], posted.get("detail")
        assert len(posted["message"]["blocks"]) == 50 and len(posted["message"]["attachments"]) == 100
