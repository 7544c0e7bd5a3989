"""Tickets (HS256 JWS under a derived key; PyJWT forges the odd ones): round trip, expiry and
clock skew, tampering, wrong edge, single use, the nonce store's bounds and epoch."""

from __future__ import annotations

import re
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire import tickets
from wire.tickets import MemoryNonceStore, NonceStoreFull, TicketError, check, issue, verify

SECRET = "s3cret"
NOW = 1_700_000_000.0
GOOD: dict[str, Any] = {"sub": "U1", "team": "T1", "aud": "E1", "iat": NOW, "exp": NOW + 30, "jti": "n" * 16}


def code_of(secret: str, ticket: str, edge: str = "E1", now: float = NOW) -> str:
    with pytest.raises(TicketError) as info:
        check(secret, ticket, edge, now)
    return info.value.code


def forge(claims: Any, key: bytes | None = None, algorithm: str = "HS256") -> str:
    """Signed with the ticket key (``tickets._key``) unless told otherwise: a valid signature
    over whatever payload, so that only the claim checks stand in the way."""
    key = tickets._key(SECRET) if key is None else key
    if isinstance(claims, dict):
        return jwt.encode(claims, key, algorithm=algorithm)
    return jwt.PyJWS().encode(claims, key, algorithm=algorithm)


async def test_round_trip_carries_everything() -> None:
    t = issue(SECRET, "U1", "T1", "E1", now=NOW, resume_from=42, token_hash="ab" * 32)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", t)  # URL-safe, no padding
    got = await verify(SECRET, t, "E1", NOW + 1, MemoryNonceStore())
    assert (got.user, got.team, got.edge, got.resume_from, got.token_hash) == (
        "U1",
        "T1",
        "E1",
        42,
        "ab" * 32,
    )
    assert got.issued_at == NOW and got.expires_at == NOW + 30
    assert len(got.nonce) >= 16
    plain = check(SECRET, issue(SECRET, "U1", "T1", "E1", now=NOW), "E1", NOW)
    assert plain.resume_from is None and plain.token_hash is None


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


@pytest.mark.parametrize("junk", ["=", "==", " ", "\n", "!", "+", "/"])
def test_one_ticket_has_one_spelling(junk: str) -> None:
    """Base64 decoders skip padding and stray characters; a ticket does not."""
    t = issue(SECRET, "U1", "T1", "E1", now=NOW)
    head, payload, signature = t.split(".")
    for forged in (t + junk, f"{head}{junk}.{payload}.{signature}", f"{head}.{payload}{junk}.{signature}"):
        assert code_of(SECRET, forged) == "invalid_auth", forged


def test_payload_swapped_or_resigned_elsewhere() -> None:
    mine = issue(SECRET, "U1", "T1", "E1", now=NOW)
    theirs = issue(SECRET, "U2", "T1", "E1", now=NOW)
    head, _, signature = mine.split(".")
    payload = theirs.split(".")[1]
    assert code_of(SECRET, f"{head}.{payload}.{signature}") == "invalid_auth"
    assert code_of("other-secret", mine) == "invalid_auth"


WEAK_KEY_OK = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@WEAK_KEY_OK
def test_the_key_is_derived_for_tickets_alone() -> None:
    """A token signed with the raw shared secret (any other use of it) is no ticket."""
    assert code_of(SECRET, forge(GOOD, key=SECRET.encode())) == "invalid_auth"
    assert check(SECRET, forge(GOOD), "E1", NOW).user == "U1"


@WEAK_KEY_OK
def test_only_hs256_is_accepted() -> None:
    assert code_of(SECRET, forge(GOOD, algorithm="HS512")) == "invalid_auth"
    unsigned = jwt.encode(GOOD, None, algorithm="none")  # type: ignore[arg-type]
    assert code_of(SECRET, unsigned) == "invalid_auth"


def test_bytes_and_str_secrets_agree() -> None:
    t = issue(b"s3cret", "U1", "T1", "E1", now=NOW)
    assert check(SECRET, t, "E1", NOW).user == "U1"


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "abc", "a.", ".b", "a.b", "a.b.c", "a.b.c.d", "é.é.é", "x" * 5000]
)
def test_malformed(bad: str) -> None:
    assert code_of(SECRET, bad) == "invalid_auth"


def without(name: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != name}


@pytest.mark.parametrize(
    "claims",
    [
        *(without(name) for name in ("sub", "team", "aud", "iat", "exp", "jti")),
        {**GOOD, "sub": ""},
        {**GOOD, "sub": 7},
        {**GOOD, "team": None},
        {**GOOD, "jti": ""},
        {**GOOD, "exp": "2"},
        {**GOOD, "iat": True},
        {**GOOD, "aud": ["E1", "E2"]},  # PyJWT would accept a list naming us: we do not
        {**GOOD, "r": -1},
        {**GOOD, "r": True},
        {**GOOD, "r": "5"},
        {**GOOD, "r": 1.5},
        {**GOOD, "h": 5},
    ],
)
def test_signed_but_malformed_claims_are_refused(claims: dict[str, Any]) -> None:
    """Even a correctly signed payload must match the schema (e.g. a future version)."""
    assert code_of(SECRET, forge(claims)) == "invalid_auth"


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"not-json!", b""])
def test_signed_payloads_that_are_not_claims_are_refused(payload: bytes) -> None:
    assert code_of(SECRET, forge(payload)) == "invalid_auth"


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


async def test_a_ticket_issued_before_the_stores_epoch_is_used() -> None:
    """A store that started (or lost its memory) after the ticket was issued cannot know whether
    it was redeemed before: it refuses it, and a ticket issued since passes."""
    store = MemoryNonceStore(clock=lambda: NOW + 10, epoch=NOW + 5)
    before = issue(SECRET, "U1", "T1", "E1", now=NOW)
    with pytest.raises(TicketError) as info:
        await verify(SECRET, before, "E1", NOW + 10, store)
    assert info.value.code == "ticket_used"
    after = issue(SECRET, "U1", "T1", "E1", now=NOW + 6)
    assert (await verify(SECRET, after, "E1", NOW + 10, store)).user == "U1"


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
    with pytest.raises(ValueError):
        issue(SECRET, "U1", "T1", "E1", resume_from=True)  # type: ignore[arg-type]


def test_the_signature_has_one_spelling() -> None:
    """The last base64url character of a 32-byte MAC carries 2 unused bits: a decoder ignores
    them, the ticket check does not (the signature must be the canonical encoding)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for n in range(8):
        t = issue(SECRET, "U1", "T1", "E1", now=NOW, nonce=f"nonce-{n}-0123456789")
        last = alphabet.index(t[-1])
        for spare in (1, 2, 3):  # same MAC bytes, another spelling
            assert code_of(SECRET, t[:-1] + alphabet[last ^ spare]) == "invalid_auth"


def test_tickets_are_standard_hs256_jwts() -> None:
    """Made and checked without PyJWT, still the same format: PyJWT reads ours under the ticket
    key, and one it signed passes (so routers and edges of either kind interoperate)."""
    t = issue(SECRET, "U1", "T1", "E1", now=NOW, resume_from=3, token_hash="ab" * 32)
    claims = jwt.decode(
        t, tickets._key(SECRET), algorithms=["HS256"], audience="E1", options={"verify_exp": False}
    )
    assert (claims["sub"], claims["team"], claims["r"], claims["h"], claims["iat"]) == (
        "U1",
        "T1",
        3,
        "ab" * 32,
        NOW,
    )
    assert check(SECRET, forge({**GOOD, "r": 7}), "E1", NOW).resume_from == 7


def test_only_our_header_is_accepted() -> None:
    """Correctly signed under the ticket key, but with another header (spelling, extra fields):
    refused, so no header field (``alg``, ``kid``, ``crit``...) is ever interpreted."""
    key = tickets._key(SECRET)
    for headers in ({"kid": "x"}, {"typ": "at+jwt"}, {"crit": ["exp"]}):
        assert code_of(SECRET, jwt.encode(GOOD, key, algorithm="HS256", headers=headers)) == "invalid_auth"
    unsorted = jwt.encode(GOOD, key, algorithm="HS256", sort_headers=False)  # {"typ":..,"alg":..}
    assert unsorted.split(".")[0] != issue(SECRET, "U1", "T1", "E1").split(".")[0]
    assert code_of(SECRET, unsorted) == "invalid_auth"
