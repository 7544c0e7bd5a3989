"""This edge's connections of one workspace, as per-user connection counts (pure).

Activity (any client frame but pings) is tracked per user on this edge: the user's connections
here are active while the newest activity on any of them is under ``away_after_s`` old, which is
exactly "at least one connection not auto-away". A user's counts are *dirty* once they may
differ from what was last reported; :meth:`LocalPresence.take_dirty` hands them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.bus import Counts


@dataclass(slots=True)
class _User:
    sessions: set[int] = field(default_factory=set)
    last_activity: float = 0.0
    bot: bool = False
    manual_away: bool = False
    ready: bool = False  # manual away known (asked of the origin): only then reported
    reported: Counts | None = None
    reported_active: bool = False


class LocalPresence:
    def __init__(self, away_after_s: float, bots_always_active: bool = True) -> None:
        self.away_after_s = away_after_s
        self.bots_always_active = bots_always_active
        self._users: dict[str, _User] = {}
        self._dirty: set[str] = set()

    def __contains__(self, user_id: str) -> bool:
        return user_id in self._users

    def __len__(self) -> int:
        return len(self._users)

    def users(self) -> list[str]:
        return list(self._users)

    def connect(self, user_id: str, session_id: int, now: float, bot: bool = False) -> bool:
        """A new connection (it counts as activity). True when it is the user's first here:
        then their manual away must be learnt (:meth:`set_manual`) before they are reported."""
        user = self._users.get(user_id)
        first = user is None
        if user is None:
            user = self._users[user_id] = _User(bot=bot)
        user.sessions.add(session_id)
        user.last_activity = max(user.last_activity, now)
        self._mark(user_id, user)
        return first

    def disconnect(self, user_id: str, session_id: int) -> None:
        user = self._users.get(user_id)
        if user is None:
            return
        user.sessions.discard(session_id)
        self._dirty.add(user_id)  # reported even when not ready: it may have been before

    def touch(self, user_id: str, now: float) -> None:
        """Client activity: dirty only when it turns the user active again (no report per frame)."""
        user = self._users.get(user_id)
        if user is None:
            return
        was = self._active(user, now)
        user.last_activity = max(user.last_activity, now)
        if not was:
            self._mark(user_id, user)

    def set_manual(self, user_id: str, away: bool) -> None:
        user = self._users.get(user_id)
        if user is None:
            return
        user.manual_away = away
        user.ready = True
        self._mark(user_id, user)

    def manual_known(self, user_id: str) -> bool | None:
        user = self._users.get(user_id)
        return user.manual_away if user is not None and user.ready else None

    def last_activity(self, user_id: str) -> float:
        user = self._users.get(user_id)
        return user.last_activity if user is not None else 0.0

    def counts(self, user_id: str, now: float) -> Counts | None:
        user = self._users.get(user_id)
        if user is None or not user.sessions:
            return None
        total = len(user.sessions)
        return Counts(total if self._active(user, now) else 0, total, user.last_activity)

    def sweep(self, now: float) -> None:
        """Mark dirty the users who went auto-away since they were reported active."""
        for user_id, user in self._users.items():
            if user.reported_active and not self._active(user, now):
                self._dirty.add(user_id)

    def take_dirty(self, now: float) -> dict[str, Counts | None]:
        """The counts to report (None: no connection left here), for users that changed."""
        out: dict[str, Counts | None] = {}
        for user_id in self._dirty:
            user = self._users.get(user_id)
            if user is None:
                continue
            counts = self.counts(user_id, now) if user.ready else None
            if counts != user.reported:
                out[user_id] = counts
                user.reported = counts
                user.reported_active = counts is not None and counts.active > 0
            if not user.sessions:
                del self._users[user_id]
        self._dirty.clear()
        return out

    def reported(self) -> dict[str, Counts]:
        """Everything last reported (what a full report repeats)."""
        return {u: user.reported for u, user in self._users.items() if user.reported is not None}

    def _active(self, user: _User, now: float) -> bool:
        if user.manual_away:
            return False
        if user.bot and self.bots_always_active:
            return True
        return now - user.last_activity < self.away_after_s

    def _mark(self, user_id: str, user: _User) -> None:
        if user.ready:
            self._dirty.add(user_id)
