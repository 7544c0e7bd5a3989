"""The store and services on SQLite and on MariaDB with two shards."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from origin.service import conversations, history, listing, messages, teams, users
from origin.store.shards import Store
from tests.factories import make_team
from wire.errors import SlackError


async def test_migrations_are_idempotent(store: Store) -> None:
    from origin.store.migrations import migrate

    for db in store.shards:
        assert await migrate(db) == []


async def test_workspaces_spread_over_shards(store: Store) -> None:
    teams_created = [await teams.create_workspace(store, f"T{i}") for i in range(4)]
    shards = {store.shards.index(await store.shard_of(t["id"])) for t in teams_created}
    assert shards == set(range(len(store.shards)))


async def test_concurrent_posts_get_distinct_increasing_ts(store: Store) -> None:
    team = await make_team(store)
    posts = [messages.post(store, team.users[i % 3].caller, team.general, f"message {i}") for i in range(200)]
    results = await asyncio.gather(*posts)
    stamps = [m["ts"] for m, _ in results]
    assert len(set(stamps)) == 200
    offsets = sorted(o for _, o in results)
    assert offsets == list(range(offsets[0], offsets[0] + 200))
    found, more, cursor = await history.history(
        store, team.alice.caller, team.general, 0, None, False, 1000, None
    )
    assert not more and cursor is None
    got = [m["ts"] for m in reversed(found)]
    assert got == sorted(stamps, key=lambda t: (int(t.split(".")[0]), int(t.split(".")[1])))
    as_us = [int(t.replace(".", "")) for t in got]
    assert all(a < b for a, b in itertools.pairwise(as_us))


async def test_private_channel_invisible_to_non_members(store: Store) -> None:
    team = await make_team(store)
    with pytest.raises(SlackError) as err:
        await conversations.info(store, team.carol.caller, team.private)
    assert err.value.code == "channel_not_found"
    with pytest.raises(SlackError) as err:
        await messages.post(store, team.carol.caller, team.private, "hi")
    assert err.value.code == "channel_not_found"
    listed, _ = await listing.list_conversations(
        store, team.carol.caller, {"public_channel", "private_channel"}, False, 100, None
    )
    assert team.private not in {c["id"] for c in listed}


async def test_other_workspace_is_invisible(store: Store) -> None:
    a = await make_team(store)
    b = await make_team(store)
    with pytest.raises(SlackError) as err:
        await conversations.info(store, b.alice.caller, a.general)
    assert err.value.code == "channel_not_found"
    with pytest.raises(SlackError) as err:
        await users.get_user(store, b.alice.caller, a.alice.id)
    assert err.value.code == "user_not_found"


async def test_threads_and_deletes_keep_reply_fields(store: Store) -> None:
    team = await make_team(store)
    parent, _ = await messages.post(store, team.alice.caller, team.general, "parent")
    pts = int(parent["ts"].replace(".", ""))
    r1, _ = await messages.post(store, team.bob.caller, team.general, "r1", pts)
    r2, _ = await messages.post(store, team.carol.caller, team.general, "r2", pts)
    thread, _, _ = await history.replies(
        store, team.alice.caller, team.general, pts, 0, None, True, 100, None
    )
    assert [m["text"] for m in thread] == ["parent", "r1", "r2"]
    assert thread[0]["reply_count"] == 2
    assert thread[0]["reply_users"] == [team.bob.id, team.carol.id]
    await messages.delete(store, team.carol.caller, team.general, int(r2["ts"].replace(".", "")))
    thread, _, _ = await history.replies(
        store, team.alice.caller, team.general, pts, 0, None, True, 100, None
    )
    assert thread[0]["reply_count"] == 1 and thread[0]["latest_reply"] == r1["ts"]
