"""Read-your-writes on the index engine: a search waits (bounded) for the caller's own latest
write the index has not applied, not for the workspace's last write.

The change log is fed by hand (a relay started when the test says so), so the index is
behind for as long as the test needs it to be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from changelog import MemoryLog
from origin.relay import Relay
from origin.search.generations import outbox_offset
from origin.search.indexer import WAIT_S, Indexer
from origin.service import messages, search
from origin.service.search.writes import own_offset
from origin.store.shards import Store
from tests.factories import Team, make_team
from wire.ids import parse_ts


@pytest.fixture
async def behind(store: Store, tmp_path: Path) -> AsyncIterator[tuple[Team, Indexer, MemoryLog]]:
    """A workspace whose index is current now; nothing publishes its later writes."""
    team = await make_team(store)
    log = MemoryLog()
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05)
    await indexer.start()
    try:
        db = await store.shard_of(team.id)
        assert await indexer.wait_for(team.id, await outbox_offset(db, team.id), 10.0)
        yield team, indexer, log
    finally:
        await indexer.stop()


async def test_only_the_poster_waits_and_finds_their_post(
    store: Store, behind: tuple[Team, Indexer, MemoryLog]
) -> None:
    team, indexer, log = behind
    db = await store.shard_of(team.id)
    applied = indexer.applied(team.id)
    await messages.post(store, team.alice.caller, team.general, "the quokka waves")
    posted = await outbox_offset(db, team.id)
    assert posted > applied
    assert await own_offset(db, team.id, team.bob.id, applied) == applied  # nothing of bob's
    assert await own_offset(db, team.id, team.alice.id, applied) == posted

    started = time.monotonic()
    assert (await search.search_messages(store, team.bob.caller, "quokka")).total == 0
    assert time.monotonic() - started < WAIT_S / 2  # bob did not wait for alice's write
    assert indexer.applied(team.id) == applied

    relay = Relay(store, log, poll_s=0.05)

    async def publish_soon() -> None:
        await asyncio.sleep(0.2)
        relay.start()

    publishing = asyncio.create_task(publish_soon())
    try:
        found = await search.search_messages(store, team.alice.caller, "quokka")
        assert [m["text"] for m in found.matches] == ["the quokka waves"]  # alice waited for it
        assert indexer.applied(team.id) >= posted
    finally:
        await publishing
        await relay.stop()


async def test_deletes_are_waited_for_by_anyone_and_a_long_tail_conservatively(
    store: Store, behind: tuple[Team, Indexer, MemoryLog]
) -> None:
    team, indexer, _log = behind
    db = await store.shard_of(team.id)
    applied = indexer.applied(team.id)
    _, alice_offset = await messages.post(store, team.alice.caller, team.general, "first")
    bob_posts = [await messages.post(store, team.bob.caller, team.general, f"bob {i}") for i in range(3)]
    assert await own_offset(db, team.id, team.alice.id, applied) == alice_offset
    # only the newest two are looked at: alice's may be among the older ones, so they count
    assert await own_offset(db, team.id, team.alice.id, applied, tail=2) == bob_posts[1][1] - 1
    assert await own_offset(db, team.id, team.carol.id, applied, tail=2) == bob_posts[1][1] - 1
    assert await own_offset(db, team.id, team.carol.id, applied) == applied
    # a delete names the author only (an admin may delete another's message): anyone waits
    await messages.delete(store, team.bob.caller, team.general, parse_ts(bob_posts[0][0]["ts"]))
    deleted = await outbox_offset(db, team.id)
    assert await own_offset(db, team.id, team.carol.id, applied) == deleted
