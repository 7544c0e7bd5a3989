"""The relay's lazy marks (origin/relay.py): rows appended to the log are marked published in
the outbox only every ``mark_every_s``, not on every pass. The log refuses offsets it holds
(the stream entry id is the offset), so a relay that dies before its marks, whether dropped
in process or killed at the mark (``os._exit``, as kill -9), leaves rows that the next relay
appends again harmlessly: readers see every event once, in order, none lost. When the log
loses its data, the appended but unmarked rows are appended again too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from changelog import LogReader, RedisLog
from origin.relay import Relay
from origin.service import messages
from origin.service.teams import current_offset
from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import Team, make_team
from tests.origin.test_changelog_e2e import collect, origin_args, run_faulty
from tests.spare_redis import SpareRedis


async def published_flags(store: Store, team_id: str, after: int) -> dict[int, int]:
    db = await store.shard_of(team_id)
    async with db.read() as conn:
        rows = await conn.fetchall(
            "SELECT event_offset, published FROM outbox WHERE team_id = ? AND event_offset > ? "
            "ORDER BY event_offset",
            [team_id, after],
        )
    return {int(o): int(p) for o, p in rows}


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Poll ``check`` (a database or the log: nothing to wait on) until it holds."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def post(store: Store, team: Team, *texts: str) -> None:
    for text in texts:
        await messages.post(store, team.alice.caller, team.general, text)


def texts(entries: list[tuple[int, bytes]]) -> list[str]:
    return [orjson.loads(payload)["text"] for _, payload in entries]


def forget(store: Store, relay: Relay) -> None:
    """Drop a relay as a crash would: no stop, no last marks."""
    store.on_commit[:] = [w for w in store.on_commit if w is not relay._wake]


@pytest.fixture
async def log(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisLog]:
    opened = RedisLog(redis_url, redis_prefix, trim_every_s=None)
    yield opened
    await opened.close()


async def test_passes_append_without_marking_and_a_new_relay_duplicates_nothing(
    store: Store, log: RedisLog
) -> None:
    team = await make_team(store)
    start = await current_offset(store, team.id)
    first = Relay(store, log, mark_every_s=3600)
    setup = await first.publish_once()  # the workspace's own events (and other tests' rows)
    assert await first.mark_published() == setup
    # One pass per shard that had rows, and a mark when they were many: other tests' rows may
    # be in either shard (the MariaDB databases are the session's).
    passes, marks = first.passes, first.marks
    await post(store, team, "a", "b", "c")
    assert await first.publish_once() == 3
    await post(store, team, "d", "e")
    assert await first.publish_once() == 2
    assert await first.publish_once() == 0  # reads above what it appended: nothing again
    assert first.passes - passes == 2 and first.marks == marks  # appended, not marked
    assert set((await published_flags(store, team.id, start)).values()) == {0}
    assert await first.backlog() == 0  # appended rows are not backlog, marked or not
    forget(store, first)

    second = Relay(store, log, mark_every_s=3600)  # after a crash: its memory is empty
    assert await second.backlog() == 5
    assert await second.publish_once() == 5  # appended again, refused by the log
    entries = await log.read(team.id, start)
    assert [o for o, _ in entries] == list(range(start + 1, start + 6))
    assert texts(entries) == ["a", "b", "c", "d", "e"]
    assert await second.mark_published() == 5
    assert set((await published_flags(store, team.id, start)).values()) == {1}
    await post(store, team, "f")
    assert await second.publish_once() == 1  # marked workspaces read from published = 0 again
    assert texts(await log.read(team.id, start)) == ["a", "b", "c", "d", "e", "f"]
    await second.stop()  # stopping writes the last marks
    assert set((await published_flags(store, team.id, start)).values()) == {1}


async def test_marks_follow_within_mark_every_s(store: Store, log: RedisLog) -> None:
    team = await make_team(store)
    start = await current_offset(store, team.id)
    relay = Relay(store, log, poll_s=0.05, mark_every_s=0.2)
    relay.start()
    try:
        for i in range(6):
            await post(store, team, f"m{i}")
            await asyncio.sleep(0.02)

        async def all_marked() -> bool:
            return set((await published_flags(store, team.id, start)).values()) == {1}

        await until(all_marked)
        assert len(await log.read(team.id, start)) == 6
        assert relay.marks >= 1  # written by the relay's timer: nothing stopped it
    finally:
        await relay.stop()


async def test_log_lost_with_unmarked_rows_republishes_them(store: Store, spare_redis: SpareRedis) -> None:
    team = await make_team(store)
    start = await current_offset(store, team.id)
    log = RedisLog(spare_redis.url, "flanneltest:marks:", trim_every_s=None)
    relay = Relay(store, log, poll_s=0.05, mark_every_s=3600)
    relay.start()
    try:
        await post(store, team, "a", "b", "c")

        async def appended() -> bool:
            return len(await log.read(team.id, start)) == 3

        await until(appended)
        assert set((await published_flags(store, team.id, start)).values()) == {0}
        spare_redis.kill()
        spare_redis.start()  # empty: a new epoch
        await post(store, team, "d")
        got: list[tuple[int, bytes]] = []

        async def republished() -> bool:
            nonlocal got
            try:
                got = await log.read(team.id, start)
            except Exception:  # the client reconnecting
                return False
            return len(got) >= 4

        await until(republished)
        assert [o for o, _ in got] == list(range(start + 1, start + 5))
        assert texts(got) == ["a", "b", "c", "d"]
    finally:
        await relay.stop()
        await log.close()


async def test_origin_killed_before_its_marks_loses_and_duplicates_nothing(
    mysql_shard_urls: list[str],
    redis_url: str,
    redis_prefix: str,
    start_server: type[ServerProcess],
) -> None:
    store = await Store.open(mysql_shard_urls)
    log = RedisLog(redis_url, redis_prefix)
    reader = LogReader(log)
    try:
        team = await make_team(store)
        args = origin_args(mysql_shard_urls, redis_url, redis_prefix)
        start = await current_offset(store, team.id)
        sub = await reader.subscribe(team.id, after=start)
        try:
            await post(store, team, "first", "second")
            # Appends both, then dies (os._exit, no cleanup) when its marks fall due.
            assert await asyncio.to_thread(run_faulty, args, "before_mark") == 75
            assert set((await published_flags(store, team.id, start)).values()) == {0}
            assert texts(await log.read(team.id, start)) == ["first", "second"]
            server = start_server(args, free_port()).start()
            await post(store, team, "third")
            events = await collect(sub, 3)
            assert [e["text"] for e in events] == ["first", "second", "third"]
            assert [e["offset"] for e in events] == [start + 1, start + 2, start + 3]
            await asyncio.sleep(1.0)  # anything duplicated would arrive now; the marks too
            assert await log.read(team.id, start + 3) == []
            assert set((await published_flags(store, team.id, start)).values()) == {1}
            server.stop()
        finally:
            await sub.close()
    finally:
        await reader.close()
        await log.close()
        await store.close()
