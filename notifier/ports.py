"""What the notifier needs from the world, as protocols injected at the composition root.

``Source`` is the origin's truth (workspaces, conversations, people with their prefs), read
through a narrow interface (``origin.notify_source`` implements it over the origin's store);
``Presence`` says who is active; ``DesktopSink`` reaches a user's open connections
(:class:`notifier.desktop.BusDesktop` over the ephemeral bus); ``Mailer`` sends one email;
``StateStore`` keeps offsets and what is owed across restarts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from notifier.decide import Channel
from wire.notifyprefs import NotificationPrefs


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    name: str = ""
    real_name: str = ""
    email: str = ""
    tz: str = "UTC"
    prefs: NotificationPrefs = field(default_factory=NotificationPrefs)
    snooze_until: int = 0
    dnd_ended_until: int = 0
    deleted: bool = False
    is_bot: bool = False

    @property
    def display(self) -> str:
        return self.real_name or self.name or self.user_id


class Source(Protocol):
    async def teams(self) -> list[str]: ...

    async def head(self, team_id: str) -> int:
        """The offset of the workspace's newest committed event (where a first start begins)."""
        ...

    async def team_name(self, team_id: str) -> str: ...

    async def channel(self, team_id: str, channel_id: str) -> Channel | None: ...

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]: ...


class Presence(Protocol):
    async def active_among(self, team_id: str, user_ids: Collection[str]) -> frozenset[str]:
        """Which of ``user_ids`` are active now (:func:`notifier.decide.active_users`'s rule)."""
        ...


class DesktopSink(Protocol):
    async def deliver(self, team_id: str, user_id: str, frame: dict[str, Any]) -> None: ...


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class StateStore(Protocol):
    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, state: dict[str, Any]) -> None: ...


class NobodyActive:
    """No presence feed wired: everyone is away (emails go out after their delay)."""

    async def active_among(self, team_id: str, user_ids: Collection[str]) -> frozenset[str]:
        return frozenset()


class SetPresence:
    """Presence from a set the caller maintains (tests; an adapter over the edges' bus)."""

    def __init__(self) -> None:
        self.active: set[tuple[str, str]] = set()

    async def active_among(self, team_id: str, user_ids: Collection[str]) -> frozenset[str]:
        return frozenset(u for u in user_ids if (team_id, u) in self.active)


class MemorySink:
    """Records desktop notifications (tests)."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, str, dict[str, Any]]] = []

    async def deliver(self, team_id: str, user_id: str, frame: dict[str, Any]) -> None:
        self.frames.append((team_id, user_id, frame))
