"""ChangeLog semantics, identical on MemoryLog and RedisLog."""

from __future__ import annotations

import pytest

from changelog import TooOld

from .conftest import FakeClock, MakeLog, events


async def test_append_then_read_in_order(make_log: MakeLog, team: str) -> None:
    log = make_log()
    assert await log.append(team, events(1, 5)) == 5
    assert await log.read(team, 0) == events(1, 5)
    assert await log.read(team, 2) == events(3, 5)
    assert await log.read(team, 2, limit=2) == events(3, 4)
    assert await log.read(team, 5) == []
    assert await log.read(team, 99) == []
    assert await log.last_offset(team) == 5
    assert await log.floor(team) == 1


async def test_unknown_workspace_is_empty(make_log: MakeLog, team: str) -> None:
    log = make_log()
    assert await log.read(team, 0) == []
    assert await log.last_offset(team) == 0
    assert await log.floor(team) == 1


async def test_append_is_idempotent(make_log: MakeLog, team: str) -> None:
    log = make_log()
    assert await log.append(team, events(1, 3)) == 3
    assert await log.append(team, events(1, 3)) == 0  # the relay republished after a crash
    assert await log.append(team, events(2, 5)) == 2  # overlapping batch: only 4, 5 are new
    assert await log.append(team, []) == 0
    assert await log.read(team, 0) == events(1, 5)


async def test_workspaces_are_separate(make_log: MakeLog, team: str) -> None:
    log = make_log()
    other = team + "X"
    await log.append(team, events(1, 2, "a"))
    await log.append(other, events(1, 3, "b"))
    assert await log.read(team, 0) == events(1, 2, "a")
    assert await log.read(other, 1) == events(2, 3, "b")


async def test_rejects_bad_batches_and_ids(make_log: MakeLog, team: str) -> None:
    log = make_log()
    with pytest.raises(ValueError):
        await log.append(team, [(2, b"x"), (1, b"y")])
    with pytest.raises(ValueError):
        await log.append(team, [(0, b"x")])
    with pytest.raises(ValueError):
        await log.append("a:floor", events(1, 1))
    assert await log.read(team, 0) == []


async def test_count_retention_raises_too_old(make_log: MakeLog, team: str) -> None:
    log = make_log(max_len=3)
    await log.append(team, events(1, 5))
    await log.append(team, events(6, 7))
    assert await log.floor(team) == 5
    assert await log.read(team, 4) == events(5, 7)
    with pytest.raises(TooOld) as err:
        await log.read(team, 3)  # offset 4 is gone: never a silent gap
    assert err.value.floor == 5
    with pytest.raises(TooOld):
        await log.read(team, 0)
    assert await log.last_offset(team) == 7


async def test_age_retention_on_trim(make_log: MakeLog, team: str, clock: FakeClock) -> None:
    log = make_log(max_age_s=10)
    await log.append(team, events(1, 3))
    clock.advance(5)
    await log.append(team, events(4, 5))
    clock.advance(6)  # 1..3 are 11 s old, 4..5 are 6 s old
    await log.trim()
    assert await log.floor(team) == 4
    assert await log.read(team, 3) == events(4, 5)
    with pytest.raises(TooOld) as err:
        await log.read(team, 2)
    assert err.value.floor == 4


async def test_age_retention_on_append(make_log: MakeLog, team: str, clock: FakeClock) -> None:
    log = make_log(max_age_s=10)
    await log.append(team, events(1, 2))
    clock.advance(11)
    await log.append(team, events(3, 3))
    assert await log.floor(team) == 3
    with pytest.raises(TooOld):
        await log.read(team, 1)


async def test_fully_trimmed_stream_keeps_floor_and_last(
    make_log: MakeLog, team: str, clock: FakeClock
) -> None:
    log = make_log(max_age_s=10)
    await log.append(team, events(1, 4))
    clock.advance(60)
    await log.trim()
    assert await log.floor(team) == 5
    assert await log.last_offset(team) == 4
    assert await log.read(team, 4) == []
    with pytest.raises(TooOld):
        await log.read(team, 0)
    assert await log.append(team, events(3, 4)) == 0  # still idempotent when empty
    assert await log.append(team, events(5, 6)) == 2
    assert await log.read(team, 4) == events(5, 6)


async def test_trim_leaves_fresh_workspaces(make_log: MakeLog, team: str, clock: FakeClock) -> None:
    log = make_log(max_age_s=10)
    old, fresh = team + "OLD", team + "NEW"
    await log.append(old, events(1, 2))
    clock.advance(8)
    await log.append(fresh, events(1, 2))
    clock.advance(4)
    await log.trim()
    assert await log.floor(old) == 3
    assert await log.read(fresh, 0) == events(1, 2)


async def test_first_offset_appended_is_the_floor(make_log: MakeLog, team: str) -> None:
    """A stream that starts above 1 (history lost, relay republished a suffix) says so."""
    log = make_log()
    await log.append(team, events(4, 6))
    assert await log.floor(team) == 4
    assert await log.read(team, 3) == events(4, 6)
    with pytest.raises(TooOld):
        await log.read(team, 2)
