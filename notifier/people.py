"""The notifier's cache of people (names, email, time zone, notification prefs, DND state), so a
message is decided without a trip to the origin per recipient.

Filled on a miss, in one call to the :class:`~notifier.ports.Source` for every missing user of
a message, bounded (least recently used out), and invalidated from the change log: the events
that change what a :class:`~notifier.ports.Person` holds (``notification_prefs_changed``,
``dnd_updated``, ``user_change``, ``team_join``) drop that user's entry, and a workspace that
lost events (``TooOld``) drops all of its entries. The log is ordered per workspace and its
events are applied in order, so a message decided after a preference change always sees the
new preferences.

A fill racing an invalidation (a read started before the event, answered after it) must not put
the old answer back: every user has a generation, bumped by each invalidation, and a fill
stores only the entries whose generation did not move while it was in flight.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any

from notifier.ports import Person, Source

#: Change-log events after which a user's cached Person is stale, and where the user id is.
INVALIDATING = frozenset({"notification_prefs_changed", "dnd_updated", "user_change", "team_join"})


def invalidated_user(event: Mapping[str, Any]) -> str | None:
    """The user whose cached entry ``event`` makes stale, or None."""
    if event.get("type") not in INVALIDATING:
        return None
    user = event.get("user")
    if isinstance(user, dict):  # team_join and user_change carry the full user object
        user = user.get("id")
    return user if isinstance(user, str) else None


class PeopleCache:
    """People by ``(team, user)``, read through from ``source``; at most ``max_entries``."""

    def __init__(self, source: Source, max_entries: int = 200_000) -> None:
        self.source = source
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Person | None] = OrderedDict()
        self._generation: dict[tuple[str, str], int] = {}
        self._team_generation: dict[str, int] = {}
        self._team_names: dict[str, str] = {}
        #: per workspace, bumped by every invalidation in it: what was built from its people
        #: (the notifier's per-channel audiences) is current while this has not moved
        self._versions: dict[str, int] = {}
        self.hits = 0
        self.misses = 0
        self.loads = 0  # calls to the source

    def __len__(self) -> int:
        return len(self._entries)

    async def people(self, team_id: str, user_ids: Collection[str]) -> dict[str, Person]:
        """The people of ``user_ids`` that exist (an unknown id is absent, and remembered as such)."""
        out: dict[str, Person] = {}
        missing: list[str] = []
        for uid in set(user_ids):
            key = (team_id, uid)
            if key in self._entries:
                self._entries.move_to_end(key)
                person = self._entries[key]
                if person is not None:
                    out[uid] = person
                self.hits += 1
            else:
                missing.append(uid)
        if not missing:
            return out
        self.misses += len(missing)
        before = {uid: self._gen(team_id, uid) for uid in missing}
        self.loads += 1
        loaded = await self.source.people(team_id, missing)
        for uid in missing:
            person = loaded.get(uid)
            if person is not None:
                out[uid] = person
            if self._gen(team_id, uid) == before[uid]:
                self._store((team_id, uid), person)
        return out

    async def team_name(self, team_id: str) -> str:
        name = self._team_names.get(team_id)
        if name is None:
            name = self._team_names[team_id] = await self.source.team_name(team_id)
        return name

    def observe(self, team_id: str, event: Mapping[str, Any]) -> bool:
        """Apply one change-log event: True when it made an entry stale."""
        user = invalidated_user(event)
        if user is None:
            return False
        self.invalidate(team_id, user)
        return True

    def version(self, team_id: str) -> int:
        return self._versions.get(team_id, 0)

    def invalidate(self, team_id: str, user_id: str) -> None:
        self._versions[team_id] = self._versions.get(team_id, 0) + 1
        key = (team_id, user_id)
        self._entries.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1

    def forget_team(self, team_id: str) -> None:
        """``team_id`` lost events: nothing cached of it can be trusted."""
        self._versions[team_id] = self._versions.get(team_id, 0) + 1
        for key in [k for k in self._entries if k[0] == team_id]:
            del self._entries[key]
        self._team_names.pop(team_id, None)
        self._team_generation[team_id] = self._team_generation.get(team_id, 0) + 1

    def _gen(self, team_id: str, user_id: str) -> tuple[int, int]:
        return self._team_generation.get(team_id, 0), self._generation.get((team_id, user_id), 0)

    def _store(self, key: tuple[str, str], person: Person | None) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = person
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            # generations stay (one integer per user ever invalidated): resetting one could
            # let a fill in flight match a later generation by chance
            self._entries.popitem(last=False)
