"""The edge's token-check cache: :class:`wire.ttlcache.TtlCache` (the router uses it too)."""

from __future__ import annotations

from wire.ttlcache import Clock, TtlCache

__all__ = ["Clock", "TtlCache"]
