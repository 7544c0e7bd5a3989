"""Who subscribed to whose presence, per connection (pure). One instance per workspace, so a
subscription can only ever match users of the connection's own workspace."""

from __future__ import annotations

from collections.abc import Iterable


class Subscriptions:
    def __init__(self) -> None:
        self._of: dict[int, frozenset[str]] = {}
        self._to: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._of)

    def replace(self, key: int, ids: Iterable[str]) -> list[str]:
        """``presence_sub``: ``key``'s list becomes ``ids``; the ids it did not have before."""
        new = frozenset(ids)
        old = self._of.get(key, frozenset())
        for user_id in old - new:
            self._unsub(key, user_id)
        for user_id in new - old:
            self._to.setdefault(user_id, set()).add(key)
        if new:
            self._of[key] = new
        else:
            self._of.pop(key, None)
        return [u for u in ids if u not in old]

    def drop(self, key: int) -> None:
        for user_id in self._of.pop(key, frozenset()):
            self._unsub(key, user_id)

    def watched(self, key: int) -> frozenset[str]:
        return self._of.get(key, frozenset())

    def subscribers(self, user_id: str) -> set[int]:
        return self._to.get(user_id, set())

    def _unsub(self, key: int, user_id: str) -> None:
        keys = self._to.get(user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._to[user_id]
