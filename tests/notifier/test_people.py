"""The notifier's people cache: read through, bounded, invalidated by the change log's events,
and never re-filled with an answer older than an invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from notifier.decide import Channel, email_action
from notifier.people import PeopleCache, invalidated_user
from notifier.ports import Person
from wire.notifyprefs import parse


class TableSource:
    """A Source over a dict the test edits (what the origin's store would answer now)."""

    def __init__(self, people: dict[str, Person]) -> None:
        self.table = people
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None  # set: people() waits for it (a slow read)
        self.entered = asyncio.Event()

    async def teams(self) -> list[str]:
        return ["T1"]

    async def head(self, team_id: str) -> int:
        return 0

    async def team_name(self, team_id: str) -> str:
        return "Team One"

    async def channel(self, team_id: str, channel_id: str) -> Channel | None:
        return None

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]:
        self.calls.append(sorted(user_ids))
        self.entered.set()
        answer = {u: self.table[u] for u in user_ids if u in self.table}  # read now...
        if self.gate is not None:
            await self.gate.wait()  # ...returned later
        return answer


def person(uid: str, desktop: str = "mentions") -> Person:
    return Person(uid, name=uid.lower(), prefs=parse({"desktop": desktop}))


async def test_hits_need_no_read_and_misses_are_read_together() -> None:
    src = TableSource({"UA": person("UA"), "UB": person("UB")})
    cache = PeopleCache(src)
    assert set(await cache.people("T1", ["UA", "UB", "UX"])) == {"UA", "UB"}
    assert set(await cache.people("T1", ["UA", "UB", "UX"])) == {"UA", "UB"}  # UX: known absent
    assert src.calls == [["UA", "UB", "UX"]]
    assert cache.hits == 3 and cache.misses == 3 and cache.loads == 1


async def test_each_invalidating_event_drops_that_user_only() -> None:
    src = TableSource({"UA": person("UA"), "UB": person("UB")})
    cache = PeopleCache(src)
    events = [
        {"type": "notification_prefs_changed", "user": "UA"},
        {"type": "dnd_updated", "user": "UA", "dnd_status": {}},
        {"type": "user_change", "user": {"id": "UA", "tz": "Europe/Paris"}},
        {"type": "team_join", "user": {"id": "UA"}},
    ]
    for event in events:
        await cache.people("T1", ["UA", "UB"])
        src.table["UA"] = person("UA", "all")
        assert cache.observe("T1", event)
        got = await cache.people("T1", ["UA", "UB"])
        assert got["UA"].prefs.desktop == "all", event
        src.table["UA"] = person("UA")
        cache.invalidate("T1", "UA")
    assert all(call == ["UA"] for call in src.calls[1:])  # UB was read once, at the start
    # events that change no person leave the cache alone
    for event in (
        {"type": "message", "user": "UA", "text": "hi"},
        {"type": "dnd_updated_user", "user": "UA"},  # follows its dnd_updated
        {"type": "notification_prefs_changed"},
    ):
        assert not cache.observe("T1", event)
    assert invalidated_user({"type": "user_change", "user": {"id": 7}}) is None


async def test_another_workspace_is_not_touched_and_a_lost_workspace_is_forgotten() -> None:
    src = TableSource({"UA": person("UA")})
    cache = PeopleCache(src)
    await cache.people("T1", ["UA"])
    await cache.people("T2", ["UA"])
    cache.observe("T2", {"type": "notification_prefs_changed", "user": "UA"})
    await cache.people("T1", ["UA"])
    assert len(src.calls) == 2
    await cache.team_name("T1")
    cache.forget_team("T1")  # T1 lost events (TooOld)
    assert len(cache) == 0
    await cache.people("T1", ["UA"])
    assert len(src.calls) == 3


async def test_a_read_in_flight_during_an_invalidation_is_not_kept() -> None:
    src = TableSource({"UA": person("UA")})
    cache = PeopleCache(src)
    src.gate = asyncio.Event()
    slow = asyncio.create_task(cache.people("T1", ["UA"]))  # reads the old prefs...
    await src.entered.wait()
    src.table["UA"] = person("UA", "nothing")
    cache.observe("T1", {"type": "notification_prefs_changed", "user": "UA"})  # ...changed now
    src.gate.set()
    assert (await slow)["UA"].prefs.desktop == "mentions"  # that caller got what it asked for
    src.gate = None
    assert (await cache.people("T1", ["UA"]))["UA"].prefs.desktop == "nothing"  # not cached
    assert len(src.calls) == 2


async def test_bounded_least_recently_used_out() -> None:
    src = TableSource({u: person(u) for u in ("UA", "UB", "UC")})
    cache = PeopleCache(src, max_entries=2)
    await cache.people("T1", ["UA"])
    await cache.people("T1", ["UB"])
    await cache.people("T1", ["UA"])  # UA used last: UB goes first
    await cache.people("T1", ["UC"])
    assert len(cache) == 2
    await cache.people("T1", ["UA"])
    assert len(src.calls) == 3
    await cache.people("T1", ["UB"])
    assert len(src.calls) == 4
    off = PeopleCache(src, max_entries=0)  # 0: no cache, every read goes to the source
    await off.people("T1", ["UA"])
    await off.people("T1", ["UA"])
    assert off.loads == 2


def test_email_goes_out_only_to_an_inactive_user_with_an_address_and_smtp() -> None:
    assert email_action(False, mailer=True, address="a@example.com") == "send"
    assert email_action(True, mailer=True, address="a@example.com") == "active"
    assert email_action(False, mailer=True, address="") == "no_address"
    assert email_action(False, mailer=False, address="a@example.com") == "no_mailer"
    assert email_action(True, mailer=False, address="") == "active"
