"""When to reconnect, and how long to wait first: pure decisions, no I/O.

Backoff is exponential with *full jitter* (a uniform draw in ``[0, min(cap, base * 2^n))``):
when an edge dies, thousands of clients reconnect at once, and jitter spreads them over the
window instead of stampeding the next edge in lockstep. A server that says when to come back
(``Retry-After`` on HTTP 429) is obeyed: never earlier, plus a little jitter for the same reason.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from client_sdk.errors import AuthError

# WebSocket close codes the edge uses (4000-4999 are the application's).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # draining, after a goodbye frame
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOKEN_REVOKED = 4001
CLOSE_ACCOUNT_INACTIVE = 4002
CLOSE_BAD_TICKET = 4003
CLOSE_TOO_SLOW = 4008  # our send queue overflowed at the edge: resume at once
CLOSE_RESYNC = 4010  # the edge reloaded its copy of the workspace
CLOSE_RATE_LIMITED = 4029

FATAL_CLOSES = {CLOSE_TOKEN_REVOKED: "token_revoked", CLOSE_ACCOUNT_INACTIVE: "account_inactive"}


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
    BACKOFF = "backoff"  # something failed: back off


def after_close(code: int | None, reason: str = "", goodbye: bool = False) -> tuple[Next, AuthError | None]:
    """Classify a close: revoked token or inactive account end it; the rest reconnect."""
    if code in FATAL_CLOSES:
        return Next.STOP, AuthError(FATAL_CLOSES[code], {"detail": reason} if reason else None)
    if goodbye or code in (CLOSE_GOING_AWAY, CLOSE_TOO_SLOW, CLOSE_RESYNC):
        return Next.SOON, None
    return Next.BACKOFF, None
