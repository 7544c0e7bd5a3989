"""Tickets: round trip, expiry and clock skew, tampering, wrong edge, single use."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flannel.rtm import tickets
from flannel.rtm.tickets import MemoryNonceStore, NonceStoreFull, TicketError, check, issue, verify

SECRET = "s3cret"
NOW = 1_700_000_000.0


def code_of(secret: str, ticket: str, edge: str = "E1", now: float = NOW) -> str:
    with pytest.raises(TicketError) as info:
        check(secret, ticket, edge, now)
    return info.value.code


async def test_round_trip_carries_everything() -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW, resume_from=42)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", t)  # URL-safe, no padding
    got = await verify(SECRET, t, "E1", NOW + 1, MemoryNonceStore())
    assert (got.user, got.team, got.edge, got.resume_from) == ("U1", "T1", "E1", 42)
    assert got.issued_at == NOW and got.expires_at == NOW + 30
    assert len(got.nonce) >= 16
    assert check(SECRET, issue(SECRET, "U1", "T1", "E1", now=NOW), "E1", NOW).resume_from is None


def test_nonces_differ() -> None:
    assert issue(SECRET, "U1", "T1", "E1", now=NOW) != issue(SECRET, "U1", "T1", "E1", now=NOW)


def test_expiry_tolerates_skew_and_no_more() -> None:
    t = issue(SECRET, "U1", "T1", "E1", ttl_s=30, now=NOW)
    assert check(SECRET, t, "E1", NOW + 30 + 4.9, skew_s=5).user == "U1"
    assert code_of(SECRET, t, now=NOW + 35) == "ticket_expired"
    with pytest.raises(TicketError, match="ticket_expired"):
        check(SECRET, t, "E1", NOW + 31, skew_s=0)


def test_issued_in_the_future_within_skew() -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    assert check(SECRET, t, "E1", NOW - 4).user == "U1"  # the router's clock is 4 s ahead
    assert code_of(SECRET, t, now=NOW - 6) == "invalid_auth"


def test_tampering_anywhere_is_invalid_auth() -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    for i, ch in enumerate(t):
        if ch == ".":
            continue
        forged = t[:i] + ("A" if ch != "A" else "B") + t[i + 1 :]
        assert code_of(SECRET, forged) == "invalid_auth", i


def test_payload_swapped_or_resigned_elsewhere() -> None:
    mine = issue(SECRET, "U1", "T1", "E1", now=NOW)
    theirs = issue(SECRET, "U2", "T1", "E1", now=NOW)
    assert code_of(SECRET, theirs.split(".")[0] + "." + mine.split(".")[1]) == "invalid_auth"
    assert code_of("other-secret", mine) == "invalid_auth"


def test_bytes_and_str_secrets_agree() -> None:
    t = issue(b"s3cret", "U1", "T1", "E1", now=NOW)
    assert check(SECRET, t, "E1", NOW).user == "U1"


@pytest.mark.parametrize("bad", ["", ".", "abc", "a.", ".b", "a.b.c", "é.é", "x" * 5000])
def test_malformed(bad: str) -> None:
    assert code_of(SECRET, bad) == "invalid_auth"


def test_signed_but_malformed_payload_is_refused() -> None:
    """Even a correctly signed payload must match the schema (e.g. a future version)."""
    for payload in (
        {"v": 2, "u": "U", "t": "T", "e": "E1", "i": 1, "x": 2, "n": "n"},
        {"v": 1, "u": "U", "t": "T", "e": "E1", "i": 1, "x": "2", "n": "n"},
        {"v": 1, "u": "", "t": "T", "e": "E1", "i": 1, "x": 2, "n": "n"},
        {"v": 1, "u": "U", "t": "T", "e": "E1", "i": 1, "x": 2, "n": "n", "r": -1},
        [1, 2],
    ):
        segment = tickets._b64(orjson.dumps(payload))
        forged = (segment + b"." + tickets._sign(SECRET, segment)).decode()
        assert code_of(SECRET, forged, now=0) == "invalid_auth"
    segment = b"not-base64-json!"
    assert code_of(SECRET, (segment + b"." + tickets._sign(SECRET, segment)).decode()) == "invalid_auth"


def test_wrong_edge() -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    assert code_of(SECRET, t, edge="E2") == "wrong_edge"


async def test_single_use() -> None:
    store = MemoryNonceStore(clock=lambda: NOW)
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    await verify(SECRET, t, "E1", NOW, store)
    with pytest.raises(TicketError) as info:
        await verify(SECRET, t, "E1", NOW + 1, store)
    assert info.value.code == "ticket_used"
    await verify(SECRET, issue(SECRET, "U1", "T1", "E1", now=NOW), "E1", NOW, store)  # another: fine


async def test_a_refused_ticket_does_not_burn_its_nonce() -> None:
    store = MemoryNonceStore(clock=lambda: NOW)
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    with pytest.raises(TicketError, match="wrong_edge"):
        await verify(SECRET, t, "E2", NOW, store)
    assert len(store) == 0
    await verify(SECRET, t, "E1", NOW, store)


async def test_nonce_store_purges_and_is_bounded() -> None:
    clock = [NOW]
    store = MemoryNonceStore(max_entries=2, clock=lambda: clock[0])
    assert await store.claim("a", NOW + 10)
    assert await store.claim("b", NOW + 20)
    with pytest.raises(NonceStoreFull) as info:
        await store.claim("c", NOW + 30)  # fail closed: never forget a live nonce
    assert info.value.code == "ratelimited"
    assert not await store.claim("a", NOW + 10)
    clock[0] = NOW + 10  # "a" expired: purged, room again
    assert await store.claim("c", NOW + 30)
    assert len(store) == 2
    clock[0] = NOW + 100
    store.purge()
    assert len(store) == 0


async def test_nonce_kept_until_the_ticket_cannot_pass_the_expiry_check() -> None:
    clock = [NOW]
    store = MemoryNonceStore(clock=lambda: clock[0])
    t = issue(SECRET, "U1", "T1", "E1", ttl_s=30, now=NOW)
    await verify(SECRET, t, "E1", NOW, store)
    clock[0] = NOW + 34.9  # past expiry but inside the skew: still remembered
    with pytest.raises(TicketError, match="ticket_used"):
        await verify(SECRET, t, "E1", clock[0], store)
    clock[0] = NOW + 35  # forgotten, and the expiry check now refuses it
    with pytest.raises(TicketError, match="ticket_expired"):
        await verify(SECRET, t, "E1", clock[0], store)


@given(st.data())
def test_any_mutation_is_refused(data: st.DataObject) -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW, nonce="fixed-nonce-123456")
    chars = list(t)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        i = data.draw(st.integers(0, len(chars) - 1))
        ch = data.draw(st.characters(codec="ascii"))
        if op == "replace":
            chars[i] = ch
        elif op == "delete" and len(chars) > 1:
            del chars[i]
        else:
            chars.insert(i, ch)
    mutated = "".join(chars)
    if mutated != t:
        with pytest.raises(TicketError):
            check(SECRET, mutated, "E1", NOW)


def test_issue_validates() -> None:
    with pytest.raises(ValueError):
        issue(SECRET, "", "T1", "E1")
    with pytest.raises(ValueError):
        issue(SECRET, "U1", "T1", "E1", resume_from=-1)
