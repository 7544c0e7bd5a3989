"""When to reconnect, and how long to wait first: pure decisions, no I/O.

Backoff is exponential with *full jitter* (a uniform draw in ``[0, min(cap, base * 2^n))``):
when an edge dies, thousands of clients reconnect at once, and jitter spreads them over the
window instead of stampeding the next edge in lockstep. A server that says when to come back
(``Retry-After`` on HTTP 429) is obeyed: never earlier, plus a little jitter for the same reason.
Close codes are the wire contract's (:mod:`wire.closecodes`), the ones the edge closes with.

Writes (:class:`WriteRetry`) are sent again when their answer was lost (the edge died mid-call,
a timeout, a 5xx, a 429) until a deadline: safe because every post carries a ``client_msg_id``
the origin deduplicates on, and the other writes are idempotent or say so when repeated
(:func:`done_by_earlier_attempt`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from client_sdk.errors import ApiError, AuthError, ConnectionLost, FlannelError, RateLimited, RequestTimeout
from wire import closecodes

#: The error a fatal close (:data:`wire.closecodes.FATAL`) ends the session with.
FATAL_ERRORS = {closecodes.TOKEN_REVOKED: "token_revoked", closecodes.ACCOUNT_INACTIVE: "account_inactive"}
#: Planned moves (a drain, a send queue overflow, a reload): reconnect at once and resume.
SOON_CLOSES = frozenset({closecodes.GOING_AWAY, closecodes.TOO_SLOW, closecodes.RESYNC})
#: No close frame (None) or an abnormal closure: the edge vanished (killed, or its host).
LOST_CLOSES = frozenset({None, 1006})
#: Server errors that say "not now" rather than "no": the write may succeed if sent again.
RETRYABLE_CODES = frozenset(
    {"service_unavailable", "internal_error", "fatal_error", "request_timeout", "origin_unreachable"}
)


@dataclass
class Backoff:
    """Delays for consecutive failed attempts; :meth:`reset` after a connection succeeds."""

    base: float = 0.5
    cap: float = 30.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempt: int = 0

    def next(self) -> float:
        """The delay before the next attempt: full jitter over the exponential ceiling."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return float(self.rand() * ceiling)

    def retry_after(self, seconds: float) -> float:
        """What the server asked, never less, plus jitter so a crowd does not return together."""
        self.attempt += 1
        return max(0.0, seconds) + self.rand() * self.base

    def soon(self) -> float:
        """A planned move (goodbye, too slow, resync): go now, jittered over ``base``."""
        return self.rand() * self.base

    def reset(self) -> None:
        self.attempt = 0


class Next(Enum):
    """What to do once a connection has closed."""

    STOP = "stop"  # the session is over (an AuthError says why)
    SOON = "soon"  # an expected move: reconnect almost at once
    LOST = "lost"  # the edge vanished: name it to the router (failed_edge), reconnect at once
    BACKOFF = "backoff"  # something failed: back off


def after_close(code: int | None, reason: str = "", goodbye: bool = False) -> tuple[Next, AuthError | None]:
    """Classify a close: revoked token or inactive account end it; the rest reconnect (a
    refused ticket, ``BAD_TICKET``, or an edge that cannot admit now after a backoff)."""
    if code in closecodes.FATAL:
        error = FATAL_ERRORS.get(code, "invalid_auth")
        return Next.STOP, AuthError(error, {"detail": reason} if reason else None)
    if goodbye or code in SOON_CLOSES:
        return Next.SOON, None
    if code in LOST_CLOSES:
        return Next.LOST, None
    return Next.BACKOFF, None


def retryable(error: FlannelError) -> bool:
    """Whether a failed request may succeed if sent again (its effect, if any, deduplicated)."""
    if isinstance(error, AuthError):
        return False
    if isinstance(error, ConnectionLost | RequestTimeout | RateLimited):
        return True
    if isinstance(error, ApiError):
        return error.code in RETRYABLE_CODES or (error.status or 0) >= 500
    return False


#: What a write answers when an earlier attempt, whose answer was lost, already did it.
ALREADY_DONE = {
    "chat.delete": "message_not_found",
    "reactions.add": "already_reacted",
    "reactions.remove": "no_reaction",
}


def done_by_earlier_attempt(method: str, error: FlannelError, attempt: int) -> bool:
    """A repeated write refused as already done: the lost attempt did it."""
    return attempt > 0 and isinstance(error, ApiError) and ALREADY_DONE.get(method) == error.code


@dataclass
class WriteRetry:
    """When to send one write again: exponential full-jitter backoff (short first waits: an edge
    failover takes a fraction of a second), ``Retry-After`` obeyed, never past ``deadline``
    seconds after the first attempt. One per write."""

    deadline: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.1, cap=2.0))

    def delay(self, error: FlannelError, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or None: raise ``error`` now."""
        left = self.deadline - elapsed
        if left <= 0 or not retryable(error):
            return None
        if isinstance(error, RateLimited):
            wait = self.backoff.retry_after(error.retry_after)
            return wait if wait < left else None  # the server said no sooner: do not try early
        return min(self.backoff.next(), left)
