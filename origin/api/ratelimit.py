"""Per-token, per-tier rate limits: the pure logic is the wire contract's (the edges enforce
the same tiers), re-exported here for the origin's callers."""

from __future__ import annotations

from wire.ratelimit import DEFAULT_TIERS, RateLimiter, parse_tiers

__all__ = ["DEFAULT_TIERS", "RateLimiter", "parse_tiers"]
