"""Short-lived, single-use WebSocket tickets: how the router vouches for a client to one edge.

The router has checked the token; the edge must not see it again (a ticket ends up in the URL,
and URLs end up in logs). So the router signs a JWT (compact JWS, HS256) and the edge checks the
signature, the audience (the edge id: a ticket for another edge would land on a cold cache), the
expiry, and that its unique id (``jti``) was never redeemed before.

Both ends are ours, so the JWS is made and checked here with :func:`hmac.digest` rather than
through a general JWT library (PyJWT cost ~40% of the router's ``rtm.connect`` and a third of
the edge's redeem in a connect storm): one header (``{"alg":"HS256","typ":"JWT"}``, byte for
byte) is accepted, so there is no algorithm to negotiate; the MAC is checked (in constant
time, over the segments as sent) before the payload is even decoded; the signature must be the
canonical base64url of the MAC, so a ticket has one spelling. Tickets stay standard HS256 JWTs:
a ticket signed by PyJWT under the same key passes, and PyJWT accepts ours.

Claims: ``sub`` user, ``team``, ``aud`` edge id, ``iat``/``exp`` (NumericDate, ms precision),
``jti`` nonce, optional ``r`` (resume offset) and ``h`` (SHA-256 of the token, so that revoking
it closes the session). The HMAC key is derived from the shared secret for this one purpose, so
a MAC made for another use of the same secret can never pass as a ticket.

Clock skew. Router and edge clocks differ. A ticket stays valid for ``skew_s`` (default 5 s)
past its expiry, and one issued up to ``skew_s`` in the edge's future is accepted; beyond that it
is ``ticket_expired`` / ``invalid_auth``. Single use only needs the nonce to be remembered until
``expires_at + skew_s``: after that the expiry check rejects the ticket anyway. The clock is
passed in (``now``), so these rules are tested without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import heapq
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

DEFAULT_TTL_S = 30.0
DEFAULT_SKEW_S = 5.0
MAX_TICKET_CHARS = 2048
ALGORITHM = "HS256"
_KEY_LABEL = b"flannel/rtm-ticket/v2"
_REQUIRED = ["sub", "team", "aud", "iat", "exp", "jti"]
#: A compact JWS as we issue it: three unpadded base64url segments. Decoders are lenient (padding,
#: stray characters), so anything else is refused up front: one ticket, one spelling.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: The one JOSE header of a ticket, as its base64url segment (what PyJWT writes for HS256).
_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


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

    async def claim(self, nonce: str, expires_at: float, issued_at: float) -> bool:
        """True the first time ``nonce`` is claimed; False if it was claimed before, or if the
        store cannot vouch for tickets issued at ``issued_at`` (it lost its memory since)."""
        ...


class MemoryNonceStore:
    """An in-process :class:`NonceStore`: bounded, purges expired nonces as it goes.

    Only sound when one process serves the edge id; with several, use a shared store. When
    ``max_entries`` live nonces are held, :meth:`claim` raises :class:`NonceStoreFull`: forgetting
    a live nonce would let its ticket be used twice. Tickets issued before the store existed are
    refused (a restarted edge cannot know which of them were redeemed).
    """

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.time, epoch: float = 0.0
    ) -> None:
        self._max = max_entries
        self._clock = clock
        self.epoch = epoch
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

    async def claim(self, nonce: str, expires_at: float, issued_at: float = float("inf")) -> bool:
        self.purge()
        if issued_at < self.epoch or nonce in self._expiry:
            return False
        if len(self._expiry) >= self._max:
            raise NonceStoreFull()
        self._expiry[nonce] = expires_at
        heapq.heappush(self._heap, (expires_at, nonce))
        return True


@functools.lru_cache(maxsize=8)
def _key(secret: str | bytes) -> bytes:
    """The ticket key of ``secret`` (derived once per secret: a process has one or two)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(key: bytes, signed: str) -> str:
    """The signature segment of ``signed`` (``header.payload``): HS256, base64url."""
    return _b64(hmac.digest(key, signed.encode("ascii"), "sha256"))


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
    claims: dict[str, Any] = {
        "sub": user,
        "team": team,
        "aud": edge,
        "iat": round(now, 3),
        "exp": round(now + ttl_s, 3),
        "jti": nonce or secrets.token_urlsafe(16),
    }
    if resume_from is not None:
        claims["r"] = resume_from
    if token_hash:
        claims["h"] = token_hash
    signed = _HEADER + "." + _b64(orjson.dumps(claims))
    return signed + "." + _mac(_key(secret), signed)


def check(
    secret: str | bytes, ticket: str, edge_id: str, now: float, skew_s: float = DEFAULT_SKEW_S
) -> Ticket:
    """Signature, audience and expiry, without redeeming the nonce (see :func:`verify`)."""
    if not isinstance(ticket, str) or len(ticket) > MAX_TICKET_CHARS or not _COMPACT.fullmatch(ticket):
        raise TicketError("invalid_auth", "malformed ticket")
    signed, _, signature = ticket.rpartition(".")
    header, _, payload = signed.partition(".")
    if header != _HEADER:  # another algorithm, or none: there is nothing to negotiate
        raise TicketError("invalid_auth", "bad ticket: header")
    # Over the segments as sent, in constant time, before anything of the payload is read.
    if not hmac.compare_digest(_mac(_key(secret), signed), signature):
        raise TicketError("invalid_auth", "bad ticket: signature")
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        raise TicketError("invalid_auth", "bad ticket: payload") from None
    if not isinstance(claims, dict) or not all(k in claims for k in _REQUIRED):
        raise TicketError("invalid_auth", "bad ticket: claims")
    if claims["aud"] != edge_id and isinstance(claims["aud"], str):
        raise TicketError("wrong_edge", "ticket is for another edge")
    parsed = _parse(claims)
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
    if not await nonces.claim(parsed.nonce, parsed.expires_at + skew_s, parsed.issued_at):
        raise TicketError("ticket_used")
    return parsed


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse(claims: dict[str, Any]) -> Ticket:
    """Strict over authenticated claims, so a schema change cannot slip through."""
    strings = [claims.get(k) for k in ("sub", "team", "aud", "jti")]
    resume = claims.get("r")
    hashed = claims.get("h")
    if (
        not all(isinstance(s, str) and s for s in strings)
        or not (_number(claims.get("iat")) and _number(claims.get("exp")))
        or not (resume is None or (type(resume) is int and resume >= 0))
        or not (hashed is None or isinstance(hashed, str))
    ):
        raise TicketError("invalid_auth", "malformed claims")
    return Ticket(
        user=claims["sub"],
        team=claims["team"],
        edge=claims["aud"],
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
        nonce=claims["jti"],
        resume_from=resume,
        token_hash=hashed,
    )
