"""search.messages and search.files over HTTP, through the official slack_sdk client and a real
origin process, on each search engine (``--search-engine``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from origin.search import HIGHLIGHT_END, HIGHLIGHT_START
from tests.conftest import ServerProcess
from tests.origin.conftest import Origin, start_origin


@pytest.fixture(params=["tantivy", "database"])
async def engine_origin(
    request: pytest.FixtureRequest, start_server: type[ServerProcess], database_urls: list[str]
) -> AsyncIterator[Origin]:
    server, store, team = await start_origin(start_server, database_urls, "--search-engine", request.param)
    try:
        yield Origin(server, store, team)
    finally:
        await store.close()


def test_search_messages_with_slack_sdk(engine_origin: Origin) -> None:
    origin = engine_origin
    team = origin.team
    alice = WebClient(token=team.alice.token, base_url=origin.api)
    carol = WebClient(token=team.carol.token, base_url=origin.api)
    posted = [alice.chat_postMessage(channel=team.general, text=f"release train {i}")["ts"] for i in range(5)]
    alice.chat_postMessage(channel=team.private, text="release of the secret kind")
    alice.chat_update(channel=team.general, ts=posted[0], text="renamed train 0")
    # The poster reads her own writes at once (the index waits for her last offset); the
    # others' searches below then see them too.
    assert alice.search_messages(query="renamed")["messages"]["total"] == 1

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


def test_search_files_answers_in_slack_shape(engine_origin: Origin) -> None:
    """No file is shared here (files are indexed from file_share messages' events, see
    test_search_indexer): the shape, the paging and the errors."""
    client = WebClient(token=engine_origin.team.alice.token, base_url=engine_origin.api)
    got = client.api_call("search.files", params={"query": "roadmap", "count": 5})
    assert got["ok"] and got["query"] == "roadmap"
    assert got["files"] == {
        "total": 0,
        "matches": [],
        "paging": {"count": 5, "total": 0, "page": 1, "pages": 0},
        "pagination": {"total_count": 0, "page": 1, "per_page": 5, "page_count": 0, "first": 0, "last": 0},
    }
    with pytest.raises(SlackApiError) as err:
        client.api_call("search.files", params={"query": "in:"})
    assert err.value.response["error"] == "invalid_arguments"
