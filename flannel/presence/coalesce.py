"""Presence changes batched over a short window (pure).

Changes wait until the oldest pending one is ``window_s`` old, then go out together, grouped by
presence in Slack's batch shape. A user who flapped within the window (away then back) and ends
where they started is not sent at all. :func:`plan` picks, for each subscriber, the users of the
batch it watches, and groups subscribers by identical frames so each frame is encoded once.
"""

from __future__ import annotations

from collections.abc import Mapping

from flannel.presence.subscriptions import Subscriptions
from wire.presence import ACTIVE, AWAY


class Coalescer:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._pending: dict[str, tuple[str, str]] = {}  # user -> (presence before, presence now)
        self._since: float | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, changes: Mapping[str, str], now: float) -> None:
        for user_id, presence in changes.items():
            before = self._pending.get(user_id)
            start = before[0] if before is not None else (AWAY if presence == ACTIVE else ACTIVE)
            self._pending[user_id] = (start, presence)
        if self._pending and self._since is None:
            self._since = now

    def due(self, now: float) -> bool:
        return self._since is not None and now - self._since >= self.window_s

    def flush(self) -> dict[str, list[str]]:
        """presence -> users, for the users whose presence really changed; clears."""
        out: dict[str, list[str]] = {}
        for user_id, (start, end) in self._pending.items():
            if start != end:
                out.setdefault(end, []).append(user_id)
        self._pending.clear()
        self._since = None
        return out


Frame = tuple[str, tuple[str, ...]]


def plan(batch: Mapping[str, list[str]], subs: Subscriptions) -> dict[Frame, list[int]]:
    """(presence, users) -> the subscriber keys that get that frame: each only the users it
    watches, nobody anything it did not subscribe to."""
    per_key: dict[int, dict[str, list[str]]] = {}
    for presence, users in batch.items():
        for user_id in users:
            for key in subs.subscribers(user_id):
                per_key.setdefault(key, {}).setdefault(presence, []).append(user_id)
    frames: dict[Frame, list[int]] = {}
    for key, by_presence in per_key.items():
        for presence, users in by_presence.items():
            frames.setdefault((presence, tuple(users)), []).append(key)
    return frames
