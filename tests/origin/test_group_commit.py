"""Group commit (origin/store/group.py): writes queued behind a workspace's lock share one
transaction, yet each behaves as if it ran alone, one after the other, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from origin.service import messages
from origin.service.teams import current_offset
from origin.store.shards import Store
from tests.factories import Team, make_team
from wire.errors import SlackError


@pytest.fixture
async def team(store: Store) -> Team:
    return await make_team(store)


class Holder:
    """A write that holds its workspace's transaction until released, so that writes started
    meanwhile queue behind it and join its group."""

    def __init__(self, store: Store, team_id: str, name: str | None = None) -> None:
        self.store = store
        self.team_id = team_id
        self.name = name
        self.inside = asyncio.Event()
        self.release = asyncio.Event()
        self.offset = 0

    async def run(self) -> None:
        async with self.store.write(self.team_id) as tx:
            if self.name is not None:
                await tx.conn.execute("UPDATE teams SET name = ? WHERE id = ?", [self.name, self.team_id])
            self.offset = await tx.emit({"type": "holder"})
            self.inside.set()
            await self.release.wait()


async def queued_behind(holder: Holder, *writes: Callable[[], Awaitable[object]]) -> list[object]:
    """Start ``holder``, start ``writes`` while it holds the transaction, release it, and
    return each write's result (or the exception it raised)."""
    held = asyncio.create_task(holder.run())
    await holder.inside.wait()
    tasks = [asyncio.create_task(w()) for w in writes]  # type: ignore[arg-type]
    for _ in range(5):
        await asyncio.sleep(0)  # let them queue
    holder.release.set()
    await held
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def outbox_offsets(store: Store, team_id: str) -> list[int]:
    async with store.read(team_id) as conn:
        rows = await conn.fetchall(
            "SELECT event_offset FROM outbox WHERE team_id = ? ORDER BY event_offset", [team_id]
        )
    return [int(r[0]) for r in rows]


async def texts(store: Store, team: Team) -> list[str]:
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            "SELECT text FROM messages WHERE channel_id = ? ORDER BY ts", [team.general]
        )
    return [str(r[0]) for r in rows]


async def team_name(store: Store, team_id: str) -> str:
    async with store.read(team_id) as conn:
        row = await conn.fetchone("SELECT name FROM teams WHERE id = ?", [team_id])
    assert row is not None
    return str(row[0])


async def test_queued_writes_commit_together_with_dense_offsets(store: Store, team: Team) -> None:
    start = await current_offset(store, team.id)
    groups = store.group_commit.groups
    holder = Holder(store, team.id)

    def post(i: int) -> Callable[[], Awaitable[object]]:
        return lambda: messages.post(store, team.alice.caller, team.general, f"m{i}")

    results = await queued_behind(holder, *(post(i) for i in range(10)))
    offsets = [offset for _, offset in results]  # type: ignore[misc]
    assert holder.offset == start + 1
    assert offsets == list(range(start + 2, start + 12))  # in arrival order, no gap
    assert store.group_commit.groups == groups + 1  # one transaction for all eleven
    assert await current_offset(store, team.id) == start + 11
    assert (await outbox_offsets(store, team.id))[-11:] == list(range(start + 1, start + 12))
    assert (await texts(store, team))[-10:] == [f"m{i}" for i in range(10)]


async def test_a_write_sees_the_writes_queued_before_it(store: Store, team: Team) -> None:
    holder = Holder(store, team.id, name="Renamed")

    async def read_name() -> str:
        async with store.write(team.id) as tx:
            row = await tx.conn.fetchone("SELECT name FROM teams WHERE id = ?", [team.id])
        assert row is not None
        return str(row[0])

    assert await queued_behind(holder, read_name) == ["Renamed"]


async def failing_write(store: Store, team_id: str, gate: asyncio.Event | None = None) -> None:
    """Writes, emits, then fails: none of it may survive."""
    async with store.write(team_id) as tx:
        await tx.conn.execute("UPDATE teams SET name = ? WHERE id = ?", ["Poisoned", team_id])
        await tx.emit({"type": "doomed"})
        if gate is not None:
            await gate.wait()
        raise SlackError("invalid_arguments", "changed its mind")


async def test_a_failing_write_in_a_group_is_undone_alone(store: Store, team: Team) -> None:
    start = await current_offset(store, team.id)
    holder = Holder(store, team.id)
    results = await queued_behind(
        holder,
        lambda: messages.post(store, team.alice.caller, team.general, "before"),
        lambda: failing_write(store, team.id),
        lambda: messages.post(store, team.bob.caller, team.general, "after"),
    )
    assert isinstance(results[1], SlackError) and results[1].code == "invalid_arguments"
    assert [r[1] for r in (results[0], results[2])] == [start + 2, start + 3]  # type: ignore[index]
    assert await team_name(store, team.id) == "Test Team"
    assert (await outbox_offsets(store, team.id))[-3:] == [start + 1, start + 2, start + 3]
    assert await current_offset(store, team.id) == start + 3


async def test_the_first_write_failing_after_writing_leaves_the_rest_to_commit(
    store: Store, team: Team
) -> None:
    start = await current_offset(store, team.id)
    gate = asyncio.Event()
    first = asyncio.create_task(failing_write(store, team.id, gate))
    for _ in range(5):
        await asyncio.sleep(0)  # it holds the transaction, having written
    posts = [
        asyncio.create_task(messages.post(store, team.alice.caller, team.general, f"p{i}")) for i in range(3)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    gate.set()
    with pytest.raises(SlackError):
        await first
    offsets = [offset for _, offset in await asyncio.gather(*posts)]
    assert offsets == [start + 1, start + 2, start + 3]
    assert await team_name(store, team.id) == "Test Team"
    assert await current_offset(store, team.id) == start + 3


async def test_a_write_cancelled_while_queued_holds_up_nothing(store: Store, team: Team) -> None:
    start = await current_offset(store, team.id)
    holder = Holder(store, team.id)
    held = asyncio.create_task(holder.run())
    await holder.inside.wait()
    doomed = asyncio.create_task(messages.post(store, team.alice.caller, team.general, "never"))
    kept = asyncio.create_task(messages.post(store, team.bob.caller, team.general, "kept"))
    for _ in range(5):
        await asyncio.sleep(0)
    doomed.cancel()
    holder.release.set()
    await held
    with pytest.raises(asyncio.CancelledError):
        await doomed
    _, offset = await kept
    assert offset == start + 2
    assert "never" not in await texts(store, team)


async def test_every_write_waits_for_its_commit(store: Store, team: Team) -> None:
    """A write's ``async with`` returns only once its group committed: what it wrote is there."""
    holder = Holder(store, team.id)

    async def post_then_read() -> bool:
        _, offset = await messages.post(store, team.alice.caller, team.general, "durable")
        async with store.read(team.id) as conn:  # another connection: sees committed rows only
            row = await conn.fetchone(
                "SELECT 1 FROM outbox WHERE team_id = ? AND event_offset = ?", [team.id, offset]
            )
        return row is not None

    assert await queued_behind(holder, post_then_read, post_then_read) == [True, True]


async def test_many_concurrent_writers_keep_offsets_dense(store: Store, team: Team) -> None:
    start = await current_offset(store, team.id)

    async def writer(w: int) -> list[int]:
        out = []
        for i in range(5):
            _, offset = await messages.post(store, team.users[w % 3].caller, team.general, f"{w}.{i}")
            out.append(offset)
        return out

    results = await asyncio.gather(*(writer(w) for w in range(12)))
    assert sorted(o for r in results for o in r) == list(range(start + 1, start + 61))
    for offsets in results:
        assert offsets == sorted(offsets)  # each writer's own writes in its order
    assert (await outbox_offsets(store, team.id))[-60:] == list(range(start + 1, start + 61))


@pytest.fixture
async def alone(store: Store) -> AsyncIterator[Store]:
    store.group_commit.max_group = 1
    yield store


async def test_one_transaction_per_write_when_grouping_is_off(alone: Store, team: Team) -> None:
    start = await current_offset(alone, team.id)
    groups = alone.group_commit.groups
    results = await asyncio.gather(
        *(messages.post(alone, team.alice.caller, team.general, f"a{i}") for i in range(4))
    )
    assert sorted(offset for _, offset in results) == list(range(start + 1, start + 5))
    assert alone.group_commit.groups == groups + 4
