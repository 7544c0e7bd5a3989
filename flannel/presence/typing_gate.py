"""Which typing frames are forwarded (pure): not for channels above the member cap, and at most
one per channel per ``interval_s`` per connection."""

from __future__ import annotations

RATE = "rate_limited"
CAP = "too_many_members"
_PRUNE_AT = 64


class TypingGate:
    def __init__(self, interval_s: float, member_cap: int) -> None:
        self.interval_s = interval_s
        self.member_cap = member_cap
        self._last: dict[int, dict[str, float]] = {}

    def check(self, key: int, channel: str, members: int, now: float) -> str | None:
        """None when connection ``key``'s typing in ``channel`` (of ``members``) goes out now,
        else why not (:data:`CAP`, :data:`RATE`)."""
        if members > self.member_cap:
            return CAP
        mine = self._last.setdefault(key, {})
        last = mine.get(channel)
        if last is not None and now - last < self.interval_s:
            return RATE
        if len(mine) >= _PRUNE_AT:
            for old in [c for c, t in mine.items() if now - t >= self.interval_s]:
                del mine[old]
        mine[channel] = now
        return None

    def drop(self, key: int) -> None:
        self._last.pop(key, None)
