"""Ticket nonces in a real Redis of the test's own: single use survives Redis losing its data
(defect 4), and the first handshake after a Redis restart, or with Redis down, is answered with
a close code, never a 500 (defect 5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from flannel.nonces import RedisNonceStore
from tests.flannel.harness import EDGE_ID, SECRET, serve
from tests.spare_redis import SpareRedis
from wire import closecodes
from wire.keys import nonce_epoch_key
from wire.tickets import TicketError, issue, verify

PREFIX = "flanneltest:nonces:"


@pytest.fixture
async def store(spare_redis: SpareRedis) -> AsyncIterator[RedisNonceStore]:
    nonces = RedisNonceStore(spare_redis.url, PREFIX, EDGE_ID)
    await nonces.start()
    yield nonces
    await nonces.close()


def ticket(at: float | None = None) -> str:
    return issue(SECRET, "U2", "T1", EDGE_ID, now=at)


async def redeem(store: RedisNonceStore, given: str) -> str:
    try:
        await verify(SECRET, given, EDGE_ID, time.time(), store)
    except TicketError as exc:
        return exc.code
    return "ok"


async def test_a_ticket_stays_spent_after_redis_loses_its_data(
    store: RedisNonceStore, spare_redis: SpareRedis
) -> None:
    spent = ticket()
    assert await redeem(store, spent) == "ok"
    assert await redeem(store, spent) == "ticket_used"
    spare_redis.flushall()  # every nonce is forgotten
    assert await redeem(store, spent) == "ticket_expired"  # refused all the same
    assert await redeem(store, spent) == "ticket_expired"
    assert await redeem(store, ticket()) == "ok"  # tickets signed since are good


async def test_tickets_issued_before_redis_restarted_are_refused(
    store: RedisNonceStore, spare_redis: SpareRedis
) -> None:
    spent = ticket()
    assert await redeem(store, spent) == "ok"
    spare_redis.kill()
    spare_redis.start()  # empty, on the same port
    assert await redeem(store, spent) != "ok"


async def test_a_restarted_edge_keeps_the_epoch(store: RedisNonceStore, spare_redis: SpareRedis) -> None:
    epoch = await store.epoch()
    assert epoch is not None and epoch <= time.time()
    signed_meanwhile = ticket()  # by a router, while the edge restarts
    again = RedisNonceStore(spare_redis.url, PREFIX, EDGE_ID)
    try:
        await again.start()
        assert await again.epoch() == epoch
        assert await redeem(again, signed_meanwhile) == "ok"
        assert await redeem(again, signed_meanwhile) == "ticket_used"
    finally:
        await again.close()


async def test_a_storm_signed_after_the_edge_started_is_admitted(spare_redis: SpareRedis) -> None:
    nonces = RedisNonceStore(spare_redis.url, PREFIX, "edge-storm")
    try:
        await nonces.start()
        signed = [issue(SECRET, "U2", "T1", "edge-storm") for _ in range(20)]
        codes = set()
        for one in signed:
            try:
                await verify(SECRET, one, "edge-storm", time.time(), nonces)
                codes.add("ok")
            except TicketError as exc:
                codes.add(exc.code)
        assert codes == {"ok"}
    finally:
        await nonces.close()
    assert nonce_epoch_key(PREFIX, "edge-storm") == f"{PREFIX}nonce_epoch:edge-storm"


async def test_the_first_handshake_after_a_redis_restart_is_not_a_500(spare_redis: SpareRedis) -> None:
    nonces = RedisNonceStore(spare_redis.url, PREFIX, EDGE_ID)
    async with serve(nonces=nonces) as env:
        await nonces.start()
        async with env.ws(env.url()) as first:
            assert (await first.recv())["type"] == "hello"
        spare_redis.kill()
        spare_redis.start()
        # The pooled connections are dead: the claim is retried on a fresh one. Redis forgot
        # the epoch, so a ticket signed before the claim noticed is refused as expired.
        async with env.ws(env.url()) as second:
            frames = await second.until_closed()
        assert second.accepted and second.close_code == closecodes.BAD_TICKET
        assert frames[0]["error"]["code"] == "ticket_expired"
        async with env.ws(env.url()) as third:  # what the client does next: a fresh ticket
            assert (await third.recv())["type"] == "hello"
        spare_redis.kill()  # Redis is down: refused as unavailable, the ticket left unspent
        async with env.ws(env.url()) as fourth:
            frames = await fourth.until_closed(wait_s=15)
        assert fourth.accepted and fourth.close_code == closecodes.UNAVAILABLE
        assert frames[0]["error"]["code"] == "service_unavailable"
    await nonces.close()


async def test_a_storm_of_claims_goes_in_few_calls_and_each_nonce_once(store: RedisNonceStore) -> None:
    """Claims made together share a script call; a nonce claimed twice in one call (the same
    ticket redeemed twice at once) is claimed once, the other refused as used."""
    signed = [ticket() for _ in range(300)]
    twice = signed[:40]  # each redeemed twice, in the same loop turn
    calls0 = store.calls
    codes = await asyncio.gather(*(redeem(store, t) for t in [*signed, *twice]))
    assert codes[:40].count("ok") + codes[300:].count("ok") == 40  # one of each pair
    assert codes[40:300] == ["ok"] * 260
    assert codes[:40].count("ticket_used") + codes[300:].count("ticket_used") == 40
    assert 2 <= store.calls - calls0 <= 3  # 340 claims: 256 in one call, the rest in the next
    assert await redeem(store, signed[100]) == "ticket_used"  # and spent for good
