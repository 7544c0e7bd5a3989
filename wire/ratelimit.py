"""Slack's per-token rate-limit tiers (token buckets), pure and clock-injected.

Slack groups methods into tiers by cost; each tier allows a number of calls per minute per
token, with bursts up to that number. ``check`` says how many seconds to wait, or 0. The
origin and every edge enforce the same tiers (:data:`METHOD_TIERS`): an edge answers many
methods from memory, and those must not be a way around the limits.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

DEFAULT_TIERS: dict[int, float] = {1: 20, 2: 600, 3: 3000, 4: 6000}
#: A method not in :data:`METHOD_TIERS` (the origin's default tier too).
DEFAULT_TIER = 3

#: Each method's tier, for the origin (its method table takes it from here) and the edges;
#: the edge-only methods (prefix searches, counts) are tier 3.
METHOD_TIERS: dict[str, int] = {
    "rtm.start": 1,
    **dict.fromkeys(
        (
            "admin.emoji.add",
            "admin.emoji.addAlias",
            "admin.exports.start",
            "admin.imports.start",
            "admin.jobs.cancel",
            "conversations.archive",
            "conversations.close",
            "conversations.create",
            "conversations.list",
            "conversations.rename",
            "conversations.setPurpose",
            "conversations.setTopic",
            "conversations.unarchive",
            "dnd.endDnd",
            "dnd.endSnooze",
            "dnd.setSnooze",
            "dnd.teamInfo",
            "emoji.list",
            "files.upload",
            "pins.add",
            "pins.list",
            "pins.remove",
            "reactions.list",
            "search.files",
            "search.messages",
            "usergroups.create",
            "usergroups.list",
            "users.list",
            "users.setActive",
            "users.setPresence",
        ),
        2,
    ),
    **dict.fromkeys(
        (
            "auth.test",
            "chat.getPermalink",
            "chat.postEphemeral",
            "chat.postMessage",
            "conversations.members",
            "files.completeUploadExternal",
            "files.getUploadURLExternal",
            "files.info",
            "users.info",
            "users.profile.get",
        ),
        4,
    ),
}


def tier_of(method: str) -> int:
    return METHOD_TIERS.get(method, DEFAULT_TIER)


def parse_tiers(spec: str) -> dict[int, float]:
    """``"1:20,2:600,3:3000,4:6000"`` (calls per minute) -> {tier: per_minute}."""
    tiers = dict(DEFAULT_TIERS)
    for part in spec.split(","):
        if part.strip():
            tier, _, rate = part.partition(":")
            tiers[int(tier)] = float(rate)
    return tiers


class RateLimiter:
    """Buckets per (key, tier); least recently used keys beyond ``max_keys`` are forgotten."""

    def __init__(
        self,
        per_minute: Mapping[int, float],
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_minute = dict(per_minute)
        # Each limited tier's (capacity, refill per second), worked out once (every call asks).
        self._tiers = {
            tier: (max(rate, 1.0), rate / 60.0) for tier, rate in self.per_minute.items() if rate > 0
        }
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[tuple[str, int], tuple[float, float]] = OrderedDict()

    def check(self, key: str, tier: int) -> int:
        """Take one call from ``key``'s bucket for ``tier``; 0 if allowed, else Retry-After."""
        limited = self._tiers.get(tier)
        if limited is None:
            return 0
        capacity, per_sec = limited
        now = self.clock()
        bucket = (key, tier)
        buckets = self._buckets
        held = buckets.pop(bucket, None)
        if held is None:
            tokens = capacity
        else:
            tokens = min(capacity, held[0] + (now - held[1]) * per_sec)
        if tokens >= 1.0:
            buckets[bucket] = (tokens - 1.0, now)
            if len(buckets) > self.max_keys:
                self._evict()
            return 0
        buckets[bucket] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / per_sec))

    def _evict(self) -> None:
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
