"""Presence and typing as clients see them: the limits, the frame shapes, and typing's expiry.

Shared by edges (which enforce the limits and build the frames) and clients (which read them
and expire typing on their own).

- ``presence`` is ``active`` or ``away`` (:data:`ACTIVE`, :data:`AWAY`).
- ``presence_sub {ids}`` replaces a connection's subscription list: at most
  :data:`MAX_PRESENCE_SUB` user ids; more is refused (``invalid_arguments``), never truncated.
- ``presence_change`` comes in Slack's batch shape ``{"type": "presence_change", "users":
  [...], "presence": "away"}`` (:func:`presence_change`).
- ``user_typing {channel, user}`` has no "stop": a typist shows as typing for
  :data:`TYPING_EXPIRY_S` after the last ``user_typing`` (the hello says so in
  ``typing_expiry_s``); a typing client repeats its ``typing`` frame, of which an edge forwards
  at most one per channel per :data:`TYPING_INTERVAL_S` per connection. :class:`TypingBoard`
  is the receiving side's expiry.
- Manual away is stored at the origin; an edge asks for many users at once (a connect storm
  brings hundreds) with one ``POST`` to :data:`MANUAL_AWAY_PATH` (with the service secret):
  ``{"users": [[team_id, user_id], ...]}`` (at most :data:`MAX_MANUAL_BATCH`) answered
  ``{"ok": true, "away": [bool, ...]}``, one per pair, in order (:func:`manual_request`,
  :func:`manual_answer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ACTIVE = "active"
AWAY = "away"
PRESENCES = (ACTIVE, AWAY)
MAX_PRESENCE_SUB = 500
MAX_ID_LEN = 32
TYPING_EXPIRY_S = 5.0
TYPING_INTERVAL_S = 3.0
TYPING_MEMBER_CAP = 1000
MANUAL_AWAY_PATH = "/internal/presence/manual"
MAX_MANUAL_BATCH = 500


def parse_ids(raw: Any, limit: int = MAX_PRESENCE_SUB) -> list[str] | str:
    """The user ids of a ``presence_sub`` / ``presence_query`` (deduplicated, in order), or
    the reason they are refused."""
    if not isinstance(raw, list):
        return "ids must be an array of user ids"
    if len(raw) > limit:
        return f"ids: at most {limit} user ids, got {len(raw)}"
    seen: dict[str, None] = {}
    for value in raw:
        if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
            return "ids must be user id strings"
        seen[value] = None
    return list(seen)


def manual_request(body: Any) -> list[tuple[str, str]]:
    """The (team_id, user_id) pairs of a manual-away batch request, or ValueError saying what
    is wrong with it."""
    users = body.get("users") if isinstance(body, dict) else None
    if not isinstance(users, list):
        raise ValueError("users must be a list of [team_id, user_id] pairs")
    if len(users) > MAX_MANUAL_BATCH:
        raise ValueError(f"at most {MAX_MANUAL_BATCH} users a call")
    pairs = []
    for pair in users:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, str) and 0 < len(x) <= MAX_ID_LEN for x in pair)
        ):
            raise ValueError("users must be a list of [team_id, user_id] pairs")
        pairs.append((pair[0], pair[1]))
    return pairs


def manual_answer(body: Any, n: int) -> list[bool]:
    """The per-user answers of a manual-away batch answer, or ValueError when it is not one for
    ``n`` users."""
    away = body.get("away") if isinstance(body, dict) and body.get("ok") is True else None
    if not isinstance(away, list) or len(away) != n or not all(isinstance(a, bool) for a in away):
        raise ValueError("not a manual-away answer")
    return away


def presence_change(users: Iterable[str], presence: str) -> dict[str, Any]:
    """Slack's batched ``presence_change`` (one presence, several users)."""
    return {"type": "presence_change", "users": list(users), "presence": presence}


def manual_presence_change(presence: str) -> dict[str, Any]:
    """To a user's own connections, when they set (or cleared) manual away."""
    return {"type": "manual_presence_change", "presence": presence}


class TypingBoard:
    """Who is typing where, as a client sees it: each ``user_typing`` shows its user for
    ``expiry_s``, then they drop off on their own (no stop frame exists)."""

    def __init__(self, expiry_s: float = TYPING_EXPIRY_S) -> None:
        self.expiry_s = expiry_s
        self._seen: dict[str, dict[str, float]] = {}

    def saw(self, channel: str, user: str, now: float) -> None:
        self._seen.setdefault(channel, {})[user] = now

    def stopped(self, channel: str, user: str) -> None:
        """``user`` posted in ``channel``: they are done typing there."""
        self._seen.get(channel, {}).pop(user, None)

    def typing(self, channel: str, now: float) -> list[str]:
        """Who is typing in ``channel`` at ``now`` (oldest first); forgets the expired."""
        users = self._seen.get(channel)
        if not users:
            return []
        for user in [u for u, at in users.items() if now - at >= self.expiry_s]:
            del users[user]
        if not users:
            del self._seen[channel]
            return []
        return sorted(users, key=users.__getitem__)

    def channels(self, now: float) -> dict[str, list[str]]:
        out = {c: self.typing(c, now) for c in list(self._seen)}
        return {c: u for c, u in out.items() if u}
