"""The edge's history cache: kept origin answers, dropped by the events that may change them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flannel.cache import Workspace
from flannel.cache.history import OBJECT_FACTOR_X10, OWN_WRITE_S, HistoryCache, channels_of, limit_of
from flannel.read_methods import history_users
from tests.flannel.cache import base_state, pages_of
from wire import cursors
from wire.ids import ts_str

T = "T1"


class Copy:
    """Stands for a cached workspace object (entries name the copy they were kept for)."""

    team_id = T


def page(n: int, has_more: bool, newest: int = 1_700_000_000_000_000) -> dict[str, Any]:
    """An origin answer: ``n`` messages, newest first, one second apart."""
    messages = [
        {"type": "message", "user": "U1", "text": f"m{i}", "ts": ts_str(newest - i * 1_000_000)}
        for i in range(n)
    ]
    cursor = cursors.encode("ts", str(newest - (n - 1) * 1_000_000)) if has_more else None
    return {
        "ok": True,
        "messages": messages,
        "has_more": has_more,
        "pin_count": 0,
        **cursors.metadata(cursor),
    }


def kept(
    cache: HistoryCache, ws: Any, channel: str, limit: int, answer: dict[str, Any], now: float = 0.0
) -> bool:
    return cache.end(cache.begin(T, channel), ws, limit, answer, now)


def test_a_kept_page_answers_the_same_read_as_the_origin_did() -> None:
    cache, ws = HistoryCache(), Copy()
    answer = page(40, True)
    assert cache.get(ws, "C1", 40, 0.0) is None
    assert kept(cache, ws, "C1", 40, answer)
    got = cache.get(ws, "C1", 40, 1.0)
    assert got == {k: v for k, v in answer.items() if k != "ok"}
    assert cache.stats.hits == 1 and cache.stats.misses == 1


def test_a_shorter_page_is_cut_with_the_origins_cursor_and_a_longer_one_is_a_miss() -> None:
    cache, ws = HistoryCache(), Copy()
    kept(cache, ws, "C1", 40, page(40, True))
    short = cache.get(ws, "C1", 10, 0.0)
    assert short is not None
    assert short["messages"] == page(40, True)["messages"][:10]
    assert short["has_more"] is True
    assert short["response_metadata"] == page(10, True)["response_metadata"]  # what the origin gives
    assert cache.get(ws, "C1", 100, 0.0) is None  # the channel has more than was kept


def test_a_whole_channel_kept_answers_any_longer_read() -> None:
    cache, ws = HistoryCache(), Copy()
    kept(cache, ws, "C1", 40, page(3, False))
    longer = cache.get(ws, "C1", 100, 0.0)
    assert longer is not None and len(longer["messages"]) == 3 and longer["has_more"] is False
    shorter = cache.get(ws, "C1", 3, 0.0)
    assert shorter is not None and shorter["has_more"] is False


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "channel": "C1", "text": "new", "ts": "1.000001"},
        {"type": "message", "subtype": "message_changed", "channel": "C1", "message": {"ts": "1.0"}},
        {"type": "message", "subtype": "message_deleted", "channel": "C1", "deleted_ts": "1.0"},
        {"type": "message", "channel": "C1", "thread_ts": "1.0", "ts": "2.0"},  # a reply: its parent's counts
        {
            "type": "reaction_added",
            "user": "U2",
            "reaction": "+1",
            "item": {"type": "message", "channel": "C1", "ts": "1.0"},
        },
        {
            "type": "reaction_removed",
            "user": "U2",
            "reaction": "+1",
            "item": {"type": "message", "channel": "C1", "ts": "1.0"},
        },
        {"type": "pin_added", "channel_id": "C1", "channel": "C1", "item": {}},
        {"type": "pin_removed", "channel_id": "C1", "channel": "C1", "item": {}},
        {"type": "file_shared", "channel_id": "C1", "file_id": "F1"},
        {"type": "file_deleted", "file_id": "F1", "channel_ids": ["C9", "C1"]},
        {"type": "channel_archive", "channel": "C1"},
        {"type": "channel_rename", "channel": {"id": "C1", "name": "new-name"}},
    ],
)
def test_every_event_of_the_channel_drops_its_page(event: dict[str, Any]) -> None:
    cache, ws = HistoryCache(), Copy()
    kept(cache, ws, "C1", 40, page(40, True))
    kept(cache, ws, "C2", 40, page(40, True))
    cache.apply(T, event)
    assert cache.get(ws, "C1", 40, 0.0) is None
    assert cache.get(ws, "C2", 40, 0.0) is not None  # another channel's page stays


@pytest.mark.parametrize(
    "event",
    [
        {"type": "channel_marked", "channel": "C1", "user": "U1", "ts": "1.0"},
        {"type": "member_joined_channel", "channel": "C1", "user": "U3"},
        {"type": "user_change", "user": {"id": "U1"}},
    ],
)
def test_events_that_change_no_message_keep_the_page(event: dict[str, Any]) -> None:
    cache, ws = HistoryCache(), Copy()
    kept(cache, ws, "C1", 40, page(40, True))
    cache.apply(T, event)
    assert cache.get(ws, "C1", 40, 0.0) is not None


@pytest.mark.parametrize(
    "event",
    [
        {"type": "file_change", "file_id": "F1", "file": {"id": "F1"}},  # names no channel
        {"type": "some_future_event", "text": "?"},
        {"type": "reaction_added", "item": {"type": "file", "file": "F1"}},
    ],
)
def test_an_event_naming_no_channel_drops_the_whole_workspace_but_no_other(event: dict[str, Any]) -> None:
    class Other:
        team_id = "T2"

    cache, ws, other = HistoryCache(), Copy(), Other()
    kept(cache, ws, "C1", 40, page(40, True))
    kept(cache, ws, "C2", 40, page(40, True))
    cache.end(cache.begin("T2", "C1"), other, 40, page(40, True), 0.0)
    cache.apply(T, event)
    assert cache.get(ws, "C1", 40, 0.0) is None and cache.get(ws, "C2", 40, 0.0) is None
    assert cache.get(other, "C1", 40, 0.0) is not None


def test_an_answer_fetched_while_an_event_of_its_channel_came_is_not_kept() -> None:
    cache, ws = HistoryCache(), Copy()
    fetch = cache.begin(T, "C1")
    other = cache.begin(T, "C2")
    cache.apply(T, {"type": "message", "channel": "C1", "ts": "5.0", "text": "during"})
    assert not cache.end(fetch, ws, 40, page(40, True), 0.0)  # may predate the message
    assert cache.end(other, ws, 40, page(40, True), 0.0)  # its channel did not move
    assert cache.get(ws, "C1", 40, 0.0) is None
    assert kept(cache, ws, "C1", 40, page(40, True))  # the next fetch, after the event, is kept
    assert cache.stats.spoiled == 1


def test_a_workspace_drop_spoils_the_fetches_under_way() -> None:
    cache, ws = HistoryCache(), Copy()
    fetch = cache.begin(T, "C1")
    cache.drop_team(T)
    assert not cache.end(fetch, ws, 40, page(40, True), 0.0)


def test_failed_refused_and_oversized_answers_are_not_kept() -> None:
    cache, ws = HistoryCache(), Copy()
    assert not kept(cache, ws, "C1", 40, {"ok": False, "error": "channel_not_found"})
    assert not cache.end(cache.begin(T, "C1"), ws, 40, None, 0.0)  # the origin was unreachable
    assert not kept(cache, ws, "C1", 500, page(3, False))  # past the largest page kept
    assert not kept(cache, ws, "C1", 40, {"ok": True, "messages": "??", "has_more": False})
    assert len(cache) == 0 and cache._fetches == {}  # every fetch ended is forgotten


def test_a_page_kept_for_an_earlier_copy_of_the_workspace_is_not_served() -> None:
    """A reload or an eviction: the events in between were not applied to the entries."""
    cache, old, new = HistoryCache(), Copy(), Copy()
    kept(cache, old, "C1", 40, page(40, True))
    assert cache.get(new, "C1", 40, 0.0) is None
    assert len(cache) == 0


def test_a_page_older_than_the_maximum_age_is_asked_again() -> None:
    cache, ws = HistoryCache(max_age_s=30.0), Copy()
    kept(cache, ws, "C1", 40, page(40, True), now=100.0)
    assert cache.get(ws, "C1", 40, 129.0) is not None
    assert cache.get(ws, "C1", 40, 131.0) is None


def test_memory_is_bounded_least_recently_read_first_out() -> None:
    json = len(orjson.dumps({k: v for k, v in page(40, True).items() if k != "ok"}))
    one = json * OBJECT_FACTOR_X10 // 10
    cache, ws = HistoryCache(max_bytes=3 * one + 10), Copy()
    for channel in ("C1", "C2", "C3"):
        kept(cache, ws, channel, 40, page(40, True))
    assert cache.get(ws, "C1", 40, 0.0) is not None  # C1 read: C2 is now the oldest
    kept(cache, ws, "C4", 40, page(40, True))
    assert cache.bytes <= cache.max_bytes and len(cache) == 3
    assert cache.get(ws, "C2", 40, 0.0) is None
    assert all(cache.get(ws, c, 40, 0.0) is not None for c in ("C1", "C3", "C4"))
    counted = HistoryCache(max_entries=2)
    for channel in ("C1", "C2", "C3"):
        kept(counted, ws, channel, 40, page(40, True))
    assert len(counted) == 2


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        ({"channel": "C1"}, 100),
        ({"channel": "C1", "limit": "40"}, 40),
        ({"channel": "C1", "limit": 40}, 40),
        ({"channel": "C1", "limit": "0"}, 100),  # the origin's "or 100"
        ({"channel": "C1", "limit": ""}, 100),
        ({"channel": "C1", "limit": "x"}, None),  # the origin refuses it itself
        ({"channel": "C1", "limit": "5000"}, None),
        ({"channel": "C1", "limit": True}, None),
        ({"channel": "C1", "latest": "1.0"}, None),  # another page
        ({"channel": "C1", "cursor": "abc"}, None),
        ({"channel": "C1", "oldest": "1.0"}, None),
        ({"channel": "C1", "inclusive": "true"}, None),
    ],
)
def test_only_a_latest_page_read_is_cacheable(args: dict[str, Any], limit: int | None) -> None:
    assert limit_of(args) == limit


def test_the_channels_an_event_names() -> None:
    assert channels_of({"type": "message", "channel": "C1"}) == ["C1"]
    assert channels_of({"type": "pin_added", "channel_id": "C2"}) == ["C2"]
    assert channels_of({"type": "file_deleted", "channel_ids": ["C1", "C2"]}) == ["C1", "C2"]
    assert channels_of({"type": "file_deleted", "channel_ids": "C1"}) is None
    assert channels_of({"type": "channel_marked", "channel": "C1"}) == []
    assert channels_of({"type": "message"}) is None


def test_a_caller_who_just_wrote_without_an_offset_is_sent_to_the_origin_for_a_while() -> None:
    cache = HistoryCache()
    cache.wrote("T1:U1", "chat.update", 10.0)
    cache.wrote("T1:U2", "rtm.start", 10.0)  # a read: no reason to leave the cache
    assert cache.writing(("hash", "T1:U1"), 10.0 + OWN_WRITE_S - 0.1)
    assert not cache.writing(("hash", "T1:U2"), 10.5)  # someone else
    assert not cache.writing(("hash", "T1:U1"), 10.0 + OWN_WRITE_S)  # long enough ago


def test_a_pages_users_go_ahead_of_it_once_each_and_only_those_not_sent() -> None:
    ws = Workspace.from_pages(pages_of(base_state()))
    answer = {
        "ok": True,
        "messages": [
            {"type": "message", "user": "U2", "text": "hi <@U3> and <@U1|alice>", "ts": "2.0"},
            {"type": "message", "user": "U3", "text": "<@U9> is nobody", "ts": "1.0"},
            {"type": "message", "subtype": "bot_message", "text": "no user", "ts": "0.5"},
        ],
        "has_more": False,
    }
    assert [u["id"] for u in history_users(ws, {"U1"}, answer)] == ["U2", "U3"]
    assert history_users(ws, {"U1", "U2", "U3"}, answer) == []
    assert history_users(ws, set(), {"ok": False, "error": "channel_not_found"}) == []
