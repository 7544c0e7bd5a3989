"""The ports of the ephemeral bus (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from wire.bus import Counts, Envelope

Handler = Callable[[Envelope], None]


class Publisher(Protocol):
    async def publish(self, envelope: Envelope) -> None:
        """Send ``envelope`` to its workspace's subscribers (at most once, may be lost)."""
        ...


class Subscriber(Protocol):
    async def subscribe(self, team_id: str, handler: Handler) -> None:
        """Hear ``team_id``'s envelopes (a second subscribe replaces the handler)."""
        ...

    async def unsubscribe(self, team_id: str) -> None: ...


class Bus(Publisher, Subscriber, Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


class OnlineStore(Protocol):
    """Per-edge connection counts of a workspace's users, each edge's report with a TTL."""

    async def report(self, team_id: str, edge: str, users: Mapping[str, Counts | None], ttl_s: float) -> None:
        """Set (or, for None, drop) ``edge``'s counts of ``users``; the edge's report of
        ``team_id`` lives ``ttl_s`` from now (every report and refresh extends it)."""
        ...

    async def refresh(self, team_id: str, edge: str, ttl_s: float) -> None:
        """Keep ``edge``'s report of ``team_id`` alive another ``ttl_s``."""
        ...

    async def forget(self, team_id: str, edge: str) -> None:
        """Drop ``edge``'s whole report of ``team_id`` (its last connection there closed)."""
        ...

    async def read(self, team_id: str, user_id: str | None = None) -> dict[str, dict[str, Counts]]:
        """The live reports: edge -> user -> counts (only ``user_id``'s, when given)."""
        ...

    async def close(self) -> None: ...
