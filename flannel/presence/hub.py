"""The edge's presence hub: joins the pure parts to sessions, the ephemeral bus and the online store.

Per workspace this edge holds connections of, the hub keeps a :class:`LocalPresence` (this
edge's connections), a :class:`PresenceTable` (every edge's reports), the connections'
:class:`Subscriptions` and a :class:`Coalescer`. It subscribes to the workspace's bus channel
while it holds a connection of it, and leaves when the last one closes.

One task (:meth:`PresenceHub.run`) does the timed work: it is kicked when local counts change
(a connect, a disconnect, activity after auto-away, a manual away) and otherwise ticks every
quarter of the coalescing window. Each round it reports changed counts (the bus envelope and
the online store), flushes due batches to subscribers, and every heartbeat (a third of the TTL)
refreshes this edge's report, sweeps auto-away, and expires the reports of edges that stopped
sending heartbeats (a dead edge's users go away within the TTL).

Errors of the bus or the store are logged and survived: presence is best effort, the next
heartbeat repairs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ephemeral import Bus, OnlineStore
from flannel.presence.coalesce import Coalescer, plan
from flannel.presence.local import LocalPresence
from flannel.presence.settings import PresenceSettings
from flannel.presence.subscriptions import Subscriptions
from flannel.presence.table import PresenceTable
from flannel.presence.typing_gate import TypingGate
from flannel.rtm import frames
from flannel.rtm.delivery import Delivery
from flannel.rtm.session import Session
from wire import bus
from wire.bus import Counts, Envelope
from wire.presence import ACTIVE, AWAY

log = logging.getLogger("flannel.presence")
MANUAL_WAIT_S = 2.0

ManualOf = Callable[[str, str], Awaitable[bool]]
OnTyping = Callable[[str, str, str], None]
Wake = Callable[[list[Session]], None]


@dataclass
class _Team:
    local: LocalPresence
    table: PresenceTable = field(default_factory=PresenceTable)
    subs: Subscriptions = field(default_factory=Subscriptions)
    coalescer: Coalescer = field(default_factory=lambda: Coalescer(0.25))
    sessions: dict[int, Session] = field(default_factory=dict)
    by_user: dict[str, set[Session]] = field(default_factory=dict)
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    full_pending: bool = True


@dataclass
class HubStats:
    published: int = 0
    presence_frames: int = 0
    typing_forwarded: int = 0
    typing_refused: int = 0


class PresenceHub:
    def __init__(
        self,
        edge_id: str,
        settings: PresenceSettings,
        bus_: Bus,
        online: OnlineStore,
        *,
        manual_of: ManualOf,
        on_typing: OnTyping,
        wake: Wake,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.edge_id = edge_id
        self.settings = settings
        self.bus = bus_
        self.online = online
        self._manual_of = manual_of
        self._on_typing = on_typing
        self._wake = wake
        self._clock = clock
        self._teams: dict[str, _Team] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._pending: set[asyncio.Task[Any]] = set()
        self.gate = TypingGate(settings.typing_interval_s, settings.typing_member_cap)
        self.stats = HubStats()

    # -- sessions --------------------------------------------------------------------------

    async def open(self, session: Session, bot: bool = False) -> None:
        """``session`` is live: it counts from now (once its user's manual away is known)."""
        self._ensure_running()
        tid, uid = session.team_id, session.user_id
        team = self._teams.get(tid)
        if team is None:
            team = self._teams[tid] = self._new_team()
            self._spawn(self._join(tid, team))
        team.sessions[session.id] = session
        team.by_user.setdefault(uid, set()).add(session)
        if team.local.connect(uid, session.id, self._clock(), bot):
            self._spawn(self._learn_manual(tid, team, uid))
        self._kick.set()

    def leave(self, session: Session) -> None:
        team = self._teams.get(session.team_id)
        if team is None or team.sessions.pop(session.id, None) is None:
            return
        mine = team.by_user.get(session.user_id)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del team.by_user[session.user_id]
        team.subs.drop(session.id)
        self.gate.drop(session.id)
        team.local.disconnect(session.user_id, session.id)
        self._kick.set()

    def touch(self, team_id: str, user_id: str) -> None:
        """Client activity of ``user_id`` (not a ping): ends their auto-away here."""
        team = self._teams.get(team_id)
        if team is not None:
            team.local.touch(user_id, self._clock())
            self._kick.set()

    def presence(self, team_id: str, user_id: str) -> str:
        team = self._teams.get(team_id)
        return team.table.presence(user_id) if team is not None else AWAY

    # -- client frames ---------------------------------------------------------------------

    def subscribe(self, session: Session, ids: Iterable[str]) -> None:
        """``presence_sub``: replace the list; the current presence of the new ids follows."""
        team = self._teams.get(session.team_id)
        if team is None:
            return
        added = team.subs.replace(session.id, ids)
        self._send_current(session, team, added)

    def query(self, session: Session, ids: Iterable[str]) -> dict[str, str]:
        team = self._teams.get(session.team_id)
        return {u: (team.table.presence(u) if team is not None else AWAY) for u in ids}

    def send_current(self, session: Session, ids: Iterable[str]) -> None:
        team = self._teams.get(session.team_id)
        if team is not None:
            self._send_current(session, team, list(ids))

    def _send_current(self, session: Session, team: _Team, ids: list[str]) -> None:
        groups: dict[str, list[str]] = {}
        for user_id in ids:
            groups.setdefault(team.table.presence(user_id), []).append(user_id)
        for presence in (ACTIVE, AWAY):
            if groups.get(presence):
                session.deliver(_ephemeral(frames.presence_change(groups[presence], presence)))
                self.stats.presence_frames += 1
        self._wake([session])

    # -- typing ----------------------------------------------------------------------------

    def allow_typing(self, session: Session, channel: str, members: int) -> str | None:
        """None when this typing frame goes out (then :meth:`publish_typing`), else why not."""
        refused = self.gate.check(session.id, channel, members, self._clock())
        if refused is None:
            self.stats.typing_forwarded += 1
        else:
            self.stats.typing_refused += 1
        return refused

    def publish_typing(self, team_id: str, channel: str, user_id: str) -> None:
        self._publish(bus.Typing(team_id, self.edge_id, channel, user_id))

    def publish_user_frame(self, team_id: str, user_id: str, frame: dict[str, Any]) -> None:
        self._publish(bus.UserFrame(team_id, self.edge_id, user_id, frame))

    # -- the bus ---------------------------------------------------------------------------

    def on_envelope(self, team_id: str, envelope: Envelope) -> None:
        team = self._teams.get(team_id)
        if team is None or envelope.team != team_id:
            return
        if isinstance(envelope, bus.UserFrame):
            self._to_user(team, envelope.user, frames.encode(dict(envelope.frame)))
            return
        if envelope.sender == self.edge_id:
            return  # applied here already
        if isinstance(envelope, bus.Typing):
            self._on_typing(team_id, envelope.channel, envelope.user)
            return
        for user_id, away in envelope.manual.items():
            if user_id in team.local:
                team.local.set_manual(user_id, away)
        if envelope.edge and envelope.edge != self.edge_id:
            expires = self._clock() + envelope.ttl_s
            if envelope.users or envelope.full:
                changes = team.table.report(envelope.edge, envelope.users, expires, envelope.full)
                team.coalescer.add(changes, self._clock())
            else:
                team.table.heartbeat(envelope.edge, expires)
        self._kick.set()

    def _to_user(self, team: _Team, user_id: str, frame: bytes) -> None:
        targets = list(team.by_user.get(user_id, ()))
        delivery = _ephemeral(frame)
        for session in targets:
            session.deliver(delivery)
        self._wake(targets)

    # -- the loop --------------------------------------------------------------------------

    def _new_team(self) -> _Team:
        s = self.settings
        return _Team(LocalPresence(s.away_after_s, s.bots_always_active), coalescer=Coalescer(s.coalesce_s))

    def _ensure_running(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="flannel-presence")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _publish(self, envelope: Envelope) -> None:
        self.stats.published += 1
        self._spawn(self.bus.publish(envelope))

    async def _join(self, team_id: str, team: _Team) -> None:
        async with self._locks.setdefault(team_id, asyncio.Lock()):
            try:
                await self.bus.subscribe(team_id, lambda env: self.on_envelope(team_id, env))
                await self.online.forget(team_id, self.edge_id)  # a restarted edge's old report
                reports = await self.online.read(team_id)
            except Exception as exc:
                log.warning("joining the presence of %s failed: %r", team_id, exc)
                reports = {}
            expires = self._clock() + self.settings.ttl_s
            for edge, users in reports.items():
                if edge != self.edge_id:
                    team.table.report(edge, dict(users), expires)
            team.joined.set()
        self._kick.set()

    async def _leave(self, team_id: str, team: _Team) -> None:
        async with self._locks.setdefault(team_id, asyncio.Lock()):
            if self._teams.get(team_id) is team:
                del self._teams[team_id]
            try:
                await self.bus.unsubscribe(team_id)
                await self.online.forget(team_id, self.edge_id)
            except Exception as exc:
                log.warning("leaving the presence of %s failed: %r", team_id, exc)

    async def _learn_manual(self, team_id: str, team: _Team, user_id: str) -> None:
        try:
            away = await asyncio.wait_for(self._manual_of(team_id, user_id), MANUAL_WAIT_S)
        except Exception as exc:  # the origin is slow or down: count them, not away
            log.debug("manual presence of %s unknown: %r", user_id, exc)
            away = False
        if team.local.manual_known(user_id) is None:  # a bus envelope may have said first
            team.local.set_manual(user_id, away)
        self._kick.set()

    async def run(self) -> None:
        s = self.settings
        tick = max(0.01, min(s.coalesce_s / 4, s.heartbeat_s / 4))
        next_beat = self._clock() + s.heartbeat_s
        while not self._closing:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the task's
            # cancellation when the kick lands at the same moment, and close() would wait forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick):
                    await self._kick.wait()
            self._kick.clear()
            now = self._clock()
            beat = now >= next_beat
            if beat:
                next_beat = now + s.heartbeat_s
            for team_id, team in list(self._teams.items()):
                try:
                    await self._round(team_id, team, now, beat)
                except Exception:
                    log.exception("presence round of %s failed", team_id)

    async def _round(self, team_id: str, team: _Team, now: float, beat: bool) -> None:
        s = self.settings
        if not team.joined.is_set():
            return
        if beat:
            team.local.sweep(now)
            team.coalescer.add(team.table.expire(now), now)
        dirty = team.local.take_dirty(now)
        if dirty or team.full_pending:
            team.coalescer.add(team.table.report(self.edge_id, dirty), now)
            full = team.full_pending
            team.full_pending = False
            users: dict[str, Counts | None] = dict(team.local.reported()) if full else dirty
            if full:
                users.update(dirty)
            self.stats.published += 1
            await asyncio.gather(
                self.bus.publish(bus.Presence(team_id, self.edge_id, self.edge_id, s.ttl_s, users, full)),
                self.online.report(team_id, self.edge_id, users, s.ttl_s),
            )
        elif beat:
            self.stats.published += 1
            await asyncio.gather(
                self.bus.publish(bus.Presence(team_id, self.edge_id, self.edge_id, s.ttl_s)),
                self.online.refresh(team_id, self.edge_id, s.ttl_s),
            )
        if team.coalescer.due(now):
            self._deliver(team, team.coalescer.flush())
        if not team.sessions and not len(team.local):
            await self._leave(team_id, team)

    def _deliver(self, team: _Team, batch: dict[str, list[str]]) -> None:
        woken: list[Session] = []
        for (presence, users), keys in plan(batch, team.subs).items():
            delivery = _ephemeral(frames.presence_change(users, presence))
            for key in keys:
                session = team.sessions.get(key)
                if session is not None:
                    session.deliver(delivery)
                    woken.append(session)
                    self.stats.presence_frames += 1
        if woken:
            self._wake(woken)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        for team_id in list(self._teams):
            with contextlib.suppress(Exception):
                await self.bus.publish(
                    bus.Presence(team_id, self.edge_id, self.edge_id, self.settings.ttl_s, full=True)
                )
                await self.online.forget(team_id, self.edge_id)


def _ephemeral(frame: bytes) -> Delivery:
    return Delivery(offset=None, frame=frame, ephemeral=True)
