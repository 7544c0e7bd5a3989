"""Short-lived, single-use WebSocket tickets: how the router vouches for a client to one edge.

The router has checked the token; the edge must not see it again (a ticket ends up in the URL,
and URLs end up in logs). So the router signs ``(user, team, edge, expiry, nonce)`` with the
shared secret and the edge checks the signature, the edge id (a ticket for another edge would
land on a cold cache), the expiry, and that the nonce was never redeemed before.

Format: ``base64url(json payload) "." base64url(hmac_sha256(key, payload segment))``, no padding.
The key is derived from the secret for this one purpose, so a MAC made for another use of the
same secret can never pass as a ticket. The signature is checked, in constant time, before the
payload is parsed: unauthenticated bytes are never interpreted.

Clock skew. Router and edge clocks differ. A ticket stays valid for ``skew_s`` (default 5 s)
past its expiry, and one issued up to ``skew_s`` in the edge's future is accepted; beyond that
it is ``ticket_expired`` / ``invalid_auth``. Single use only needs the nonce to be remembered
until ``expires_at + skew_s``: after that the expiry check rejects the ticket anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

VERSION = 1
DEFAULT_TTL_S = 30.0
DEFAULT_SKEW_S = 5.0
MAX_TICKET_CHARS = 2048
_KEY_LABEL = b"flannel/rtm-ticket/v1"


class TicketError(Exception):
    """A ticket was refused; ``code`` is the Slack-style error the client gets."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class NonceStoreFull(TicketError):
    """The store cannot remember another live nonce: refuse rather than allow reuse."""

    def __init__(self) -> None:
        super().__init__("ratelimited", "too many tickets redeemed recently")


@dataclass(frozen=True, slots=True)
class Ticket:
    user: str
    team: str
    edge: str
    issued_at: float
    expires_at: float
    nonce: str
    resume_from: int | None = None
    token_hash: str | None = None  # so that revoking the token closes this session


class NonceStore(Protocol):
    """Remembers redeemed nonces until they expire (Redis ``SET NX EXAT`` in production)."""

    async def claim(self, nonce: str, expires_at: float) -> bool:
        """True the first time ``nonce`` is claimed; False if it was claimed before."""
        ...


class MemoryNonceStore:
    """An in-process :class:`NonceStore`: bounded, purges expired nonces as it goes.

    Only sound when one process serves the edge id; with several, use a shared store. When
    ``max_entries`` live nonces are held, :meth:`claim` raises :class:`NonceStoreFull`: forgetting
    a live nonce would let its ticket be used twice.
    """

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def purge(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, nonce = heapq.heappop(heap)
            if self._expiry.get(nonce) == expires_at:
                del self._expiry[nonce]

    async def claim(self, nonce: str, expires_at: float) -> bool:
        self.purge()
        if nonce in self._expiry:
            return False
        if len(self._expiry) >= self._max:
            raise NonceStoreFull()
        self._expiry[nonce] = expires_at
        heapq.heappush(self._heap, (expires_at, nonce))
        return True


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _sign(secret: str | bytes, segment: bytes) -> bytes:
    return _b64(hmac.new(_key(secret), segment, hashlib.sha256).digest())


def issue(
    secret: str | bytes,
    user: str,
    team: str,
    edge: str,
    ttl_s: float = DEFAULT_TTL_S,
    now: float | None = None,
    resume_from: int | None = None,
    nonce: str | None = None,
    token_hash: str | None = None,
) -> str:
    """A URL-safe ticket for ``user`` of ``team`` to connect to ``edge`` within ``ttl_s``."""
    if not user or not team or not edge:
        raise ValueError("user, team and edge are required")
    if resume_from is not None and (isinstance(resume_from, bool) or resume_from < 0):
        raise ValueError(f"resume_from must be a non-negative int, got {resume_from!r}")
    now = time.time() if now is None else now
    payload: dict[str, Any] = {
        "v": VERSION,
        "u": user,
        "t": team,
        "e": edge,
        "i": int(now * 1000),
        "x": int((now + ttl_s) * 1000),
        "n": nonce or secrets.token_urlsafe(16),
    }
    if resume_from is not None:
        payload["r"] = resume_from
    if token_hash:
        payload["h"] = token_hash
    segment = _b64(orjson.dumps(payload))
    return (segment + b"." + _sign(secret, segment)).decode("ascii")


def check(
    secret: str | bytes, ticket: str, edge_id: str, now: float, skew_s: float = DEFAULT_SKEW_S
) -> Ticket:
    """Signature, edge and expiry, without redeeming the nonce (see :func:`verify`)."""
    if not isinstance(ticket, str) or len(ticket) > MAX_TICKET_CHARS or not ticket.isascii():
        raise TicketError("invalid_auth", "malformed ticket")
    segment, dot, signature = ticket.encode("ascii").partition(b".")
    if not dot or not segment or not signature:
        raise TicketError("invalid_auth", "malformed ticket")
    if not hmac.compare_digest(_sign(secret, segment), signature):
        raise TicketError("invalid_auth", "bad signature")
    parsed = _parse(segment)
    if parsed.edge != edge_id:
        raise TicketError("wrong_edge", f"ticket is for edge {parsed.edge!r}")
    if now >= parsed.expires_at + skew_s:
        raise TicketError("ticket_expired")
    if parsed.issued_at > now + skew_s:
        raise TicketError("invalid_auth", "ticket issued in the future")
    return parsed


async def verify(
    secret: str | bytes,
    ticket: str,
    edge_id: str,
    now: float,
    nonces: NonceStore,
    skew_s: float = DEFAULT_SKEW_S,
) -> Ticket:
    """:func:`check`, then redeem the nonce: a second use raises ``ticket_used``."""
    parsed = check(secret, ticket, edge_id, now, skew_s)
    if not await nonces.claim(parsed.nonce, parsed.expires_at + skew_s):
        raise TicketError("ticket_used")
    return parsed


def _parse(segment: bytes) -> Ticket:
    """Decode an authenticated payload; still strict, so a schema change cannot slip through."""
    try:
        data = orjson.loads(_unb64(segment))
    except (binascii.Error, ValueError) as e:
        raise TicketError("invalid_auth", "malformed payload") from e
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise TicketError("invalid_auth", "unknown ticket version")
    strings = [data.get(k) for k in ("u", "t", "e", "n")]
    times = [data.get(k) for k in ("i", "x")]
    resume = data.get("r")
    hashed = data.get("h")
    if not (hashed is None or isinstance(hashed, str)):
        raise TicketError("invalid_auth", "malformed payload")
    if (
        not all(isinstance(s, str) and s for s in strings)
        or not all(type(t) is int for t in times)
        or not (resume is None or (type(resume) is int and resume >= 0))
    ):
        raise TicketError("invalid_auth", "malformed payload")
    return Ticket(
        user=data["u"],
        team=data["t"],
        edge=data["e"],
        issued_at=data["i"] / 1000,
        expires_at=data["x"] / 1000,
        nonce=data["n"],
        resume_from=resume,
        token_hash=hashed,
    )
