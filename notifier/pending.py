"""What the notifier owes: desktop notifications held (do-not-disturb) and emails waiting for
their delay, per user. Pure and serialisable, so it is saved with the log offsets it reflects.

Keys are ``(team, user, channel, ts)``: a message decided twice (a replay after a crash) is
one item, and each delivery channel is marked done on the item, so a restart repeats neither.
Batching: when a user's first email falls due, every email item of that user goes in one
message (they arrived within the window the first one opened). A read (``channel_marked`` at or
after the message's ts) cancels what is still owed for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

Key = tuple[str, str, str, str]


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int((micros or "0").ljust(6, "0")[:6])


@dataclass(frozen=True, slots=True)
class Item:
    team: str
    user: str
    channel: str
    ts: str
    reason: str
    deliver_at: float
    email_at: float | None
    desktop: bool  # still owed on desktop
    frame: dict[str, Any]  # the desktop_notification, built when decided
    sender: str = ""
    channel_name: str = ""
    text: str = ""
    permalink: str = ""

    @property
    def key(self) -> Key:
        return (self.team, self.user, self.channel, self.ts)

    @property
    def owed(self) -> bool:
        return self.desktop or self.email_at is not None


@dataclass(frozen=True, slots=True)
class EmailBatch:
    team: str
    user: str
    items: tuple[Item, ...]

    @property
    def idempotency_key(self) -> str:
        """The same batch gives the same key: (user, first message, email)."""
        first = self.items[0]
        return f"{self.team}.{self.user}.{first.channel}.{first.ts}.email"


class Schedule:
    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._items: dict[Key, Item] = {i.key: i for i in items}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Item]:
        return list(self._items.values())

    def add(self, item: Item) -> bool:
        """Owe ``item`` unless it is already known (a replayed event): True when new."""
        if item.key in self._items or not item.owed:
            return False
        self._items[item.key] = item
        return True

    def mark_read(self, team: str, user: str, channel: str, ts: str) -> int:
        """The user read ``channel`` up to ``ts``: cancel what is owed for it; how many."""
        upto = ts_key(ts)
        gone = [
            k
            for k, i in self._items.items()
            if i.team == team and i.user == user and i.channel == channel and ts_key(i.ts) <= upto
        ]
        for k in gone:
            del self._items[k]
        return len(gone)

    def cancel(self, team: str, channel: str, *, user: str | None = None, ts: str | None = None) -> int:
        """Forget what is owed in ``channel`` (for one user who left it, or one deleted message)."""
        gone = [
            k
            for k, i in self._items.items()
            if i.team == team
            and i.channel == channel
            and (user is None or i.user == user)
            and (ts is None or i.ts == ts)
        ]
        for k in gone:
            del self._items[k]
        return len(gone)

    def due_desktop(self, now: float) -> list[Item]:
        return sorted(
            (i for i in self._items.values() if i.desktop and i.deliver_at <= now), key=lambda i: i.deliver_at
        )

    def desktop_done(self, item: Item) -> None:
        self._update(replace(item, desktop=False))

    def due_emails(self, now: float) -> list[EmailBatch]:
        users: dict[tuple[str, str], list[Item]] = {}
        for item in self._items.values():
            if item.email_at is not None:
                users.setdefault((item.team, item.user), []).append(item)
        out = []
        for (team, user), items in sorted(users.items()):
            items.sort(key=lambda i: (i.email_at or 0, ts_key(i.ts)))
            first = items[0].email_at
            if first is not None and first <= now:
                out.append(EmailBatch(team, user, tuple(items)))
        return out

    def email_done(self, batch: EmailBatch) -> None:
        """Sent, or cancelled (the user was back): nothing more is owed by email for them."""
        for item in batch.items:
            current = self._items.get(item.key)
            if current is not None:
                self._update(replace(current, email_at=None))

    def _update(self, item: Item) -> None:
        if item.owed:
            self._items[item.key] = item
        else:
            self._items.pop(item.key, None)

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(i) for i in self._items.values()]

    @classmethod
    def from_json(cls, data: Iterable[dict[str, Any]]) -> Schedule:
        return cls(Item(**d) for d in data)
