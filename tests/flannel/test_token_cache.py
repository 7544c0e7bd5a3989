"""The edge's token checks: a plain bounded TTL map (no timers), single-flight, revocation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flannel.auth import AuthError, EdgeCaller, TokenAuth
from flannel.tokencache import TtlCache
from wire.tokens import token_hash


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Origin:
    """``auth.test`` answers by token; ``gate`` holds them until set; ``calls`` counts them."""

    def __init__(self, users: dict[str, tuple[str, str]]) -> None:
        self.users = users
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def call(self, method: str, token: str | None, args: dict[str, Any]) -> dict[str, Any]:
        assert method == "auth.test" and token is not None
        self.calls.append(token)
        await self.gate.wait()
        if token not in self.users:
            return {"ok": False, "error": "invalid_auth"}
        team_id, user_id = self.users[token]
        return {"ok": True, "team_id": team_id, "user_id": user_id}


ALICE, BOB = "xoxp-T1-U1-a", "xoxp-T1-U2-b"


def auth_with(clock: Clock, ttl_s: float = 30.0, max_entries: int = 100) -> tuple[TokenAuth, Origin]:
    origin = Origin({ALICE: ("T1", "U1"), BOB: ("T1", "U2")})
    return TokenAuth(origin, ttl_s, max_entries=max_entries, clock=clock), origin  # type: ignore[arg-type]


# -- the map ------------------------------------------------------------------------------------


def test_an_entry_lives_for_its_ttl_then_is_gone() -> None:
    clock = Clock()
    cache: TtlCache[str] = TtlCache(10.0, clock=clock)
    cache.set("k", "v")
    clock.now += 9.99
    assert cache.get("k") == "v"
    clock.now += 0.01
    assert cache.get("k") is None and len(cache) == 0


def test_restoring_a_key_renews_it_and_makes_it_newest() -> None:
    clock = Clock()
    cache: TtlCache[int] = TtlCache(10.0, max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    clock.now += 5
    cache.set("a", 3)  # renewed: "b" is now the oldest
    cache.set("c", 4)
    assert cache.get("b") is None and cache.get("a") == 3 and cache.get("c") == 4
    clock.now += 9
    assert cache.get("a") == 3


def test_the_size_is_bounded_oldest_first_and_expired_entries_go_first() -> None:
    clock = Clock()
    cache: TtlCache[int] = TtlCache(10.0, max_entries=3, clock=clock)
    for i in range(10):
        cache.set(f"k{i}", i)
    assert len(cache) == 3 and [k for k, _ in cache.items()] == ["k7", "k8", "k9"]
    clock.now += 11
    cache.set("new", 0)  # every expired entry is swept, not only one
    assert len(cache) == 1 and cache.get("new") == 0


def test_items_lists_live_entries_and_tolerates_deletes() -> None:
    clock = Clock()
    cache: TtlCache[int] = TtlCache(10.0, clock=clock)
    cache.set("old", 1)
    clock.now += 6
    cache.set("new", 2)
    clock.now += 5
    for key, _ in cache.items():
        cache.delete(key)
    assert list(cache.items()) == [] and cache.get("old") is None


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TtlCache(1.0, max_entries=0)


# -- TokenAuth ----------------------------------------------------------------------------------


async def test_a_check_is_cached_for_the_ttl_keyed_by_the_hash() -> None:
    clock = Clock()
    auth, origin = auth_with(clock, ttl_s=30)
    first = await auth.check(ALICE)
    assert first == EdgeCaller("T1", "U1", token_hash(ALICE))
    assert await auth.check(ALICE) == first and origin.calls == [ALICE]
    assert (auth.hits, auth.misses) == (1, 1)
    assert [k for k, _ in auth._cache.items()] == [token_hash(ALICE)]  # never the raw token
    clock.now += 30
    await auth.check(ALICE)
    assert origin.calls == [ALICE, ALICE]


async def test_fresh_asks_the_origin_again() -> None:
    auth, origin = auth_with(Clock())
    await auth.check(ALICE)
    await auth.check(ALICE, fresh=True)
    assert origin.calls == [ALICE, ALICE]


async def test_refusals_are_not_cached() -> None:
    auth, origin = auth_with(Clock())
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await auth.check("xoxp-T1-U9-nope")
        assert refused.value.code == "invalid_auth"
    assert len(origin.calls) == 2
    with pytest.raises(AuthError) as missing:
        await auth.check(None)
    assert missing.value.code == "not_authed" and len(origin.calls) == 2


async def test_concurrent_checks_of_one_token_ask_once() -> None:
    auth, origin = auth_with(Clock())
    origin.gate.clear()
    waiters = [asyncio.create_task(auth.check(ALICE)) for _ in range(50)]
    await asyncio.sleep(0)
    origin.gate.set()
    callers = await asyncio.gather(*waiters)
    assert origin.calls == [ALICE] and len(set(callers)) == 1 and not auth._inflight


async def test_a_waiter_that_gives_up_does_not_cancel_the_shared_check() -> None:
    auth, origin = auth_with(Clock())
    origin.gate.clear()
    quitter = asyncio.create_task(auth.check(ALICE))
    stayer = asyncio.create_task(auth.check(ALICE))
    await asyncio.sleep(0)
    quitter.cancel()
    origin.gate.set()
    assert (await stayer).user_id == "U1" and origin.calls == [ALICE]


async def test_revoke_drops_the_entry_at_once() -> None:
    auth, origin = auth_with(Clock())
    await auth.check(ALICE)
    await auth.check(BOB)
    await auth.revoke(token_hash(ALICE))
    del origin.users[ALICE]
    with pytest.raises(AuthError):
        await auth.check(ALICE)
    assert (await auth.check(BOB)).user_id == "U2" and origin.calls.count(BOB) == 1


async def test_an_answer_in_flight_during_a_revocation_is_not_cached() -> None:
    auth, origin = auth_with(Clock())
    origin.gate.clear()
    pending = asyncio.create_task(auth.check(ALICE))
    await asyncio.sleep(0)
    await auth.revoke(token_hash(ALICE))
    origin.gate.set()
    await pending  # answered as the origin said then, but not remembered
    assert auth._cache.get(token_hash(ALICE)) is None
    await auth.check(ALICE)
    assert origin.calls == [ALICE, ALICE]


async def test_forget_user_drops_every_token_of_that_user_only() -> None:
    auth, origin = auth_with(Clock())
    other = "xoxp-T1-U1-second"
    origin.users[other] = ("T1", "U1")
    for token in (ALICE, other, BOB):
        await auth.check(token)
    await auth.forget_user("T1", "U1")
    assert {v.user_id for _, v in auth._cache.items()} == {"U2"}
    await auth.check(ALICE)
    assert origin.calls.count(ALICE) == 2


async def test_the_token_cache_is_bounded() -> None:
    auth, origin = auth_with(Clock(), max_entries=5)
    for i in range(20):
        token = f"xoxp-T1-U{i}-t"
        origin.users[token] = ("T1", f"U{i}")
        await auth.check(token)
    assert len(auth._cache) == 5
    await auth.check("xoxp-T1-U0-t")  # the oldest went: asked again
    assert origin.calls.count("xoxp-T1-U0-t") == 2


async def test_a_hit_is_plain_dict_work_no_task_or_timer() -> None:
    auth, _ = auth_with(Clock())
    await auth.check(ALICE)
    loop = asyncio.get_running_loop()
    before = len(asyncio.all_tasks()), len(getattr(loop, "_scheduled", ()))
    for _ in range(100):
        await auth.check(ALICE)
    assert (len(asyncio.all_tasks()), len(getattr(loop, "_scheduled", ()))) == before


# -- batched checks -----------------------------------------------------------------------------


class BatchOrigin(Origin):
    """The origin with its batch endpoint: ``batches`` holds each call's tokens."""

    def __init__(self, users: dict[str, tuple[str, str]], batch: bool = True) -> None:
        super().__init__(users)
        self.batch = batch
        self.batches: list[list[str]] = []

    async def check_tokens(self, tokens: list[str]) -> list[dict[str, Any]]:
        from flannel.origin_client import NoBatchCheck

        if not self.batch:
            raise NoBatchCheck("/internal/tokens/check")
        self.batches.append(list(tokens))
        await self.gate.wait()
        return [await self.answer(t) for t in tokens]

    async def answer(self, token: str) -> dict[str, Any]:
        if token not in self.users:
            return {"ok": False, "error": "invalid_auth"}
        team_id, user_id = self.users[token]
        return {"ok": True, "team_id": team_id, "user_id": user_id}


def storm_tokens(n: int) -> dict[str, tuple[str, str]]:
    return {f"xoxp-T1-U{i}-s": ("T1", f"U{i}") for i in range(n)}


async def test_a_storm_of_new_tokens_is_checked_in_few_origin_calls() -> None:
    users = storm_tokens(300)
    origin = BatchOrigin(users)
    auth = TokenAuth(origin, 30.0, clock=Clock())  # type: ignore[arg-type]
    origin.gate.clear()
    tasks = [asyncio.create_task(auth.check(t)) for t in [*users, *users]]  # each token twice
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    origin.gate.set()
    got = await asyncio.gather(*tasks)
    assert [(c.team_id, c.user_id) for c in got] == [*users.values(), *users.values()]
    assert origin.calls == []  # no auth.test at all
    assert sorted(t for b in origin.batches for t in b) == sorted(users)  # each token asked once
    assert 1 <= len(origin.batches) <= 3 and auth.origin_calls == len(origin.batches)
    await auth.check(next(iter(users)))  # cached now
    assert len(origin.batches) == auth.origin_calls


async def test_a_batch_answer_refuses_each_bad_token_on_its_own() -> None:
    origin = BatchOrigin({ALICE: ("T1", "U1")})
    auth = TokenAuth(origin, 30.0, clock=Clock())  # type: ignore[arg-type]
    good, bad = await asyncio.gather(auth.check(ALICE), auth.check("xoxp-nobody"), return_exceptions=True)
    assert isinstance(good, EdgeCaller) and good.user_id == "U1"
    assert isinstance(bad, AuthError) and bad.code == "invalid_auth"
    assert origin.batches == [[ALICE, "xoxp-nobody"]]


async def test_a_revocation_during_a_batch_keeps_its_answer_out_of_the_cache() -> None:
    origin = BatchOrigin({ALICE: ("T1", "U1")})
    auth = TokenAuth(origin, 30.0, clock=Clock())  # type: ignore[arg-type]
    origin.gate.clear()
    pending = asyncio.create_task(auth.check(ALICE))
    await asyncio.sleep(0.01)
    await auth.revoke(token_hash(ALICE))
    origin.gate.set()
    await pending  # answered as asked, but not remembered
    del origin.users[ALICE]
    with pytest.raises(AuthError):
        await auth.check(ALICE)
    assert len(origin.batches) == 2


async def test_an_origin_without_the_batch_endpoint_is_asked_auth_test_per_token() -> None:
    origin = BatchOrigin({ALICE: ("T1", "U1"), BOB: ("T1", "U2")}, batch=False)
    auth = TokenAuth(origin, 30.0, clock=Clock())  # type: ignore[arg-type]
    assert (await auth.check(ALICE)).user_id == "U1"
    assert (await auth.check(BOB)).user_id == "U2"
    assert origin.calls == [ALICE, BOB] and origin.batches == []
