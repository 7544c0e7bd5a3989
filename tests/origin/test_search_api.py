"""search.messages over HTTP, through the official slack_sdk client and a real origin process."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from origin.search import HIGHLIGHT_END, HIGHLIGHT_START
from tests.origin.conftest import Origin


def test_search_messages_with_slack_sdk(origin: Origin) -> None:
    team = origin.team
    alice = WebClient(token=team.alice.token, base_url=origin.api)
    carol = WebClient(token=team.carol.token, base_url=origin.api)
    posted = [alice.chat_postMessage(channel=team.general, text=f"release train {i}")["ts"] for i in range(5)]
    alice.chat_postMessage(channel=team.private, text="release of the secret kind")
    alice.chat_update(channel=team.general, ts=posted[0], text="renamed train 0")

    got = carol.search_messages(query="release", count=2, sort="timestamp", highlight=True)
    assert got["ok"] and got["query"] == "release"
    msgs = got["messages"]
    assert msgs["total"] == 4  # not the private one, not the edited one
    assert msgs["paging"] == {"count": 2, "total": 4, "page": 1, "pages": 2}
    assert msgs["pagination"] == {
        "total_count": 4,
        "page": 1,
        "per_page": 2,
        "page_count": 2,
        "first": 1,
        "last": 2,
    }
    first = msgs["matches"][0]
    assert first["ts"] == posted[4] and first["channel"] == {
        "id": team.general,
        "name": "general",
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": False,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
    }
    assert first["text"] == f"{HIGHLIGHT_START}release{HIGHLIGHT_END} train 4"
    assert first["username"] == "alice" and first["user"] == team.alice.id and first["team"] == team.id
    assert first["permalink"] == f"{origin.url}/archives/{team.general}/p{posted[4].replace('.', '')}"
    assert isinstance(first["score"], float)

    page2 = carol.search_messages(query="release", count=2, page=2, sort="timestamp", sort_dir="asc")
    assert [m["ts"] for m in page2["messages"]["matches"]] == posted[3:5]

    stamps: list[str] = []
    for page in carol.search_messages(query="release", count=3, cursor="*", sort="timestamp"):
        stamps += [m["ts"] for m in page["messages"]["matches"]]
    assert stamps == posted[1:][::-1]

    assert carol.search_messages(query="renamed")["messages"]["total"] == 1
    assert carol.search_messages(query="secret")["messages"]["total"] == 0
    assert alice.search_messages(query="secret")["messages"]["total"] == 1
    assert carol.search_messages(query="in:#secret-plans")["messages"]["matches"] == []


BAD = [
    ({"query": ""}, "invalid_arguments"),
    ({"query": "in:"}, "invalid_arguments"),
    ({"query": "on:2024-02-30"}, "invalid_arguments"),
    ({"query": "x" * 1001}, "invalid_arguments"),
    ({"query": "a", "count": 0}, "invalid_arguments"),
    ({"query": "a", "count": 101}, "invalid_arguments"),
    ({"query": "a", "page": 101}, "invalid_arguments"),
    ({"query": "a", "sort": "relevance"}, "invalid_arguments"),
    ({"query": "a", "cursor": "bogus!"}, "invalid_cursor"),
]


def test_bad_search_arguments(origin: Origin) -> None:
    client = WebClient(token=origin.team.alice.token, base_url=origin.api)
    for args, error in BAD:
        with pytest.raises(SlackApiError) as err:
            client.search_messages(**args)  # type: ignore[arg-type]
        assert err.value.response["error"] == error, args
        if error == "invalid_arguments":
            assert err.value.response["detail"], args
