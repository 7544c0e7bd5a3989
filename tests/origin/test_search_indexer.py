"""The search indexer on a real store (SQLite, and MariaDB with two shards): fed from the change
log, it resumes from its recorded offsets, resyncs what the log lost, rebuilds online, and
indexes the files that messages share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from changelog import MemoryLog, RedisLog
from origin.models import MESSAGE_COLUMNS
from origin.relay import Relay
from origin.search.generations import build, current, outbox_offset
from origin.search.indexer import Indexer
from origin.service import messages, search
from origin.service.auth import Caller
from origin.store.shards import Store
from tests.factories import Team, make_team
from wire.ids import parse_ts


async def texts(store: Store, caller: Caller, q: str) -> list[str]:
    found = await search.search_messages(store, caller, q, count=100)
    assert found.total == len(found.matches), found
    return sorted(m["text"] for m in found.matches)


async def caught_up(indexer: Indexer, store: Store, team: Team) -> None:
    wanted = await outbox_offset(await store.shard_of(team.id), team.id)
    assert await indexer.wait_for(team.id, wanted, 10.0)


@pytest.fixture
async def team(store: Store) -> Team:
    return await make_team(store)


@pytest.fixture
async def relay(store: Store) -> AsyncIterator[tuple[Relay, MemoryLog]]:
    log = MemoryLog()
    relay = Relay(store, log, poll_s=0.05)
    relay.start()
    try:
        yield relay, log
    finally:
        await relay.stop()


async def test_resumes_from_its_offsets_after_a_restart(
    store: Store, team: Team, relay: tuple[Relay, MemoryLog], tmp_path: Path
) -> None:
    _, log = relay
    root = tmp_path / "search"
    first = Indexer(store, log, root, poll_s=0.05)
    await first.start()
    await messages.post(store, team.alice.caller, team.general, "ocelot before the restart")
    await caught_up(first, store, team)
    applied = first.applied(team.id)
    await first.stop()  # the directory stays: it is not a temporary one
    assert current(root) is not None

    await messages.post(store, team.alice.caller, team.general, "ocelot after the restart")
    second = Indexer(store, log, root, poll_s=0.05)
    await second.start()
    try:
        assert second.applied(team.id) == applied  # read back from offsets.json
        await caught_up(second, store, team)
        assert second.applied_events == second.applied(team.id) - applied  # only the new ones
        assert await texts(store, team.bob.caller, "ocelot") == [
            "ocelot after the restart",
            "ocelot before the restart",
        ]
    finally:
        await second.stop()


async def test_a_batch_applied_twice_changes_nothing(
    store: Store, team: Team, relay: tuple[Relay, MemoryLog], tmp_path: Path
) -> None:
    """A crash after the index commit but before the offsets were written: replayed."""
    _, log = relay
    root = tmp_path / "search"
    first = Indexer(store, log, root, poll_s=0.05)
    await first.start()
    posted, _ = await messages.post(store, team.alice.caller, team.general, "lynx one")
    await messages.post(store, team.alice.caller, team.general, "lynx two")
    await messages.update(store, team.alice.caller, team.general, parse_ts(posted["ts"]), "lynx uno")
    await caught_up(first, store, team)
    gen = first.generation.path
    await first.stop()
    (gen / "offsets.json").write_bytes(orjson.dumps({team.id: 1}))  # as if the write was lost

    second = Indexer(store, log, root, poll_s=0.05)
    await second.start()
    try:
        await caught_up(second, store, team)
        assert second.applied_events > 0
        assert await texts(store, team.bob.caller, "lynx") == ["lynx two", "lynx uno"]
    finally:
        await second.stop()


async def test_what_the_log_lost_is_rebuilt_from_the_database(
    store: Store, team: Team, tmp_path: Path
) -> None:
    for i in range(6):
        await messages.post(store, team.alice.caller, team.general, f"margay {i}")
    log = MemoryLog(max_len=3)  # keeps only the last three events
    relay = Relay(store, log, poll_s=0.05)
    await relay.publish_once()
    assert await log.floor(team.id) > 1
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05)
    await indexer.start()
    relay.start()
    try:
        await caught_up(indexer, store, team)
        assert len(await texts(store, team.bob.caller, "margay")) == 6
        await messages.post(store, team.alice.caller, team.general, "margay after")
        assert len(await texts(store, team.alice.caller, "margay")) == 7  # read-your-writes
    finally:
        await relay.stop()
        await indexer.stop()


async def test_reindex_online_while_the_old_index_answers(
    store: Store, team: Team, relay: tuple[Relay, MemoryLog], tmp_path: Path
) -> None:
    _, log = relay
    root = tmp_path / "search"
    indexer = Indexer(store, log, root, poll_s=0.05)
    await indexer.start()
    try:
        await messages.post(store, team.alice.caller, team.general, "serval first")
        await caught_up(indexer, store, team)
        old = indexer.generation.path
        path, built = await build(store, root)  # what `flannel admin reindex` runs
        assert built >= 1 and current(root) == path
        await messages.post(store, team.alice.caller, team.general, "serval second")
        for _ in range(100):  # the indexer notices the new generation on its next look
            if indexer.generation.path == path and not old.exists():
                break
            assert await texts(store, team.bob.caller, "serval first") == ["serval first"]
            await asyncio.sleep(0.05)
        assert indexer.generation.path == path and not old.exists()
        await messages.post(store, team.alice.caller, team.general, "serval third")
        assert await texts(store, team.alice.caller, "serval") == [
            "serval first",
            "serval second",
            "serval third",
        ]
    finally:
        await indexer.stop()


def _with_files(payload: bytes, files: list[dict[str, object]]) -> bytes:
    event = orjson.loads(payload)
    event["files"] = files
    event["subtype"] = "file_share"
    return orjson.dumps(event)


async def test_files_of_messages_and_their_deletion(store: Store, team: Team, tmp_path: Path) -> None:
    """Message events that carry ``files`` (as file_share messages do) feed search.files and
    has:file; ``file_deleted`` and deleting the message remove them."""
    log = MemoryLog()
    db = await store.shard_of(team.id)
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05)
    await indexer.start()  # a new index: the workspace is built from the database first
    start = await outbox_offset(db, team.id)
    assert await indexer.wait_for(team.id, start, 10.0)
    posted = [
        (await messages.post(store, team.alice.caller, channel, text))[0]
        for channel, text in ((team.general, "the roadmap"), (team.private, "the secret deck"))
    ]
    files = [
        {"id": "F1", "name": "q3-roadmap.pdf", "title": "Roadmap Q3", "mimetype": "application/pdf"},
        {"id": "F2", "name": "launch-deck.key", "title": "Launch deck", "filetype": "key"},
    ]
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE messages SET subtype = 'file_share' WHERE channel_id IN (?, ?)",
            [team.general, team.private],
        )
        rows = await conn.fetchall(
            "SELECT event_offset, payload FROM outbox WHERE team_id = ? AND event_offset > ? "
            "ORDER BY event_offset",
            [team.id, start],
        )
    entries = []
    for offset, payload in rows:
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        event = orjson.loads(data)
        if event["type"] == "message":
            data = _with_files(data, [files[[p["ts"] for p in posted].index(event["ts"])]])
        entries.append((int(offset), data))
    await log.append(team.id, entries)
    try:
        assert await indexer.wait_for(team.id, entries[-1][0], 10.0)
        carol, bob = team.carol.caller, team.bob.caller
        found = await search.search_files(store, carol, "roadmap")
        assert found.total == 1 and found.matches[0]["id"] == "F1"
        assert found.matches[0]["name"] == "q3-roadmap.pdf" and found.matches[0]["channels"] == [team.general]
        assert (await search.search_files(store, carol, "deck")).total == 0  # private channel
        assert [f["id"] for f in (await search.search_files(store, bob, "launch")).matches] == ["F2"]
        assert await texts(store, carol, "has:file") == ["the roadmap"]
        assert await texts(store, bob, "has:file") == ["the roadmap", "the secret deck"]
        last = entries[-1][0]
        deleted = {"type": "file_deleted", "file_id": "F2", "offset": last + 1, "team": team.id}
        await log.append(team.id, [(last + 1, orjson.dumps(deleted))])
        assert await indexer.wait_for(team.id, last + 1, 10.0)
        assert (await search.search_files(store, bob, "launch")).total == 0
    finally:
        await indexer.stop()


def test_admin_reindex_builds_a_generation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flannel_cli.main import main

    db = f"sqlite:///{tmp_path}/flannel.db"

    async def seed() -> str:
        store = await Store.open([db])
        try:
            team = await make_team(store)
            await messages.post(store, team.alice.caller, team.general, "caracal in the database")
            return team.id
        finally:
            await store.close()

    asyncio.run(seed())
    assert main(["admin", "reindex", "--search-dir", str(tmp_path / "search"), "--database-url", db]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["ok"] and out["messages"] >= 1 and current(tmp_path / "search") == Path(out["generation"])


async def test_follows_the_redis_log(
    store: Store, team: Team, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """The production log: Redis Streams, followed by the same indexer."""
    log = RedisLog(redis_url, redis_prefix)
    relay = Relay(store, log, poll_s=0.05)
    relay.start()
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05)
    await indexer.start()
    try:
        await messages.post(store, team.alice.caller, team.general, "fossa over redis")
        assert await texts(store, team.alice.caller, "fossa") == ["fossa over redis"]
    finally:
        await indexer.stop()
        await relay.stop()
        await log.close()


async def test_rows_written_without_events_are_indexed_at_start(
    store: Store, team: Team, tmp_path: Path
) -> None:
    """A seeded or imported workspace (rows, no outbox events) is built from the database the
    first time the index sees it."""
    now = parse_ts((await messages.post(store, team.alice.caller, team.general, "genet posted"))[0]["ts"])
    async with store.write(team.id) as tx:
        row = (
            team.general,
            now - 1,
            team.id,
            team.bob.id,
            "genet imported",
            None,
            None,
            0,
            None,
            None,
            None,
            None,
        )
        await tx.conn.execute(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * len(row))})", list(row)
        )
    indexer = Indexer(store, MemoryLog(), tmp_path / "search", poll_s=0.05)
    await indexer.start()
    try:
        assert await texts(store, team.carol.caller, "genet") == ["genet imported", "genet posted"]
    finally:
        await indexer.stop()


async def test_writes_are_committed_together_unless_a_search_waits(
    store: Store, team: Team, relay: tuple[Relay, MemoryLog], tmp_path: Path
) -> None:
    _, log = relay
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05, commit_every_s=3600.0)
    await indexer.start()
    try:
        await messages.post(store, team.alice.caller, team.general, "margay one")
        await caught_up(indexer, store, team)  # a search waits: committed at once
        async with asyncio.timeout(30):  # the other workspaces of the database are in too
            while not indexer.idle():  # noqa: ASYNC110 - polling state the code under test owns
                await asyncio.sleep(0.02)
        commits = indexer.commits
        for text in ("margay two", "margay three", "margay four"):
            await messages.post(store, team.alice.caller, team.general, text)
        wanted = await outbox_offset(await store.shard_of(team.id), team.id)
        async with asyncio.timeout(10):
            while indexer.staged(team.id) < wanted:  # noqa: ASYNC110 - staged, not committed: not due
                await asyncio.sleep(0.02)
        assert indexer.commits == commits and indexer.applied(team.id) < wanted
        await caught_up(indexer, store, team)  # the waiting search has them committed now
        assert indexer.commits == commits + 1
        assert await texts(store, team.bob.caller, "margay") == [
            "margay four",
            "margay one",
            "margay three",
            "margay two",
        ]
    finally:
        await indexer.stop()


async def test_staged_writes_are_committed_when_due(
    store: Store, team: Team, relay: tuple[Relay, MemoryLog], tmp_path: Path
) -> None:
    _, log = relay
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05, commit_every_s=0.2)
    await indexer.start()
    try:
        await messages.post(store, team.alice.caller, team.general, "serval one")
        await caught_up(indexer, store, team)
        await messages.post(store, team.alice.caller, team.general, "serval two")
        wanted = await outbox_offset(await store.shard_of(team.id), team.id)
        async with asyncio.timeout(10):  # nobody waits: committed once it is due
            while indexer.applied(team.id) < wanted:  # noqa: ASYNC110 - polling the indexer
                await asyncio.sleep(0.02)
    finally:
        await indexer.stop()
