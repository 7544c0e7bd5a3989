"""Presence for the notifier, from the ephemeral online store every edge reports to (Redis in
production, in-process when embedded): no subscription to keep, nothing lost on a restart, one
read per ``<!here>`` message or email that falls due. The rule is pure
(:func:`notifier.decide.active_users`)."""

from __future__ import annotations

from collections.abc import Collection

from ephemeral import OnlineStore
from notifier.decide import active_users


class OnlinePresence:
    """A :class:`notifier.ports.Presence` over an :class:`ephemeral.OnlineStore`."""

    def __init__(self, online: OnlineStore) -> None:
        self.online = online

    async def active_among(self, team_id: str, user_ids: Collection[str]) -> frozenset[str]:
        if not user_ids:
            return frozenset()
        if len(user_ids) == 1:  # one user's counts only, not the workspace's
            (user_id,) = user_ids
            return active_users((await self.online.read(team_id, user_id)).values(), user_ids)
        return active_users((await self.online.read(team_id)).values(), user_ids)
