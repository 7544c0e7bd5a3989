"""The notifier process: follow every workspace's change log, decide, deliver, resume.

Thin I/O around :func:`notifier.decide.decide` and :class:`notifier.pending.Schedule`. One
:class:`changelog.LogReader` follows every workspace the :class:`~notifier.ports.Source` knows
(refreshed periodically, so new workspaces are picked up). Each applied event moves that
workspace's offset; the offsets and the schedule are saved together in one atomic write
whenever the schedule changes (and at each tick otherwise), so a restart resumes exactly where
the saved state is: no event is decided twice into a second delivery, none is skipped.

Delivery is at-least-once: an email is marked sent only after the SMTP server accepted it; a
crash in between sends it again with the same Message-ID (derived from the batch's
idempotency key). A first start (no saved state) begins at each log's head rather than
notifying about history; a workspace first seen later starts from its beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from changelog import LogReader, Subscription, TooOld
from notifier import render
from notifier.channels import ChannelCache
from notifier.decide import (
    EMAIL_ACTIONS,
    Audience,
    Channel,
    Config,
    Message,
    Recipient,
    decide_for,
    email_action,
)
from notifier.pending import Item, Schedule
from notifier.people import PeopleCache
from notifier.ports import DesktopSink, Mailer, Presence, Source, StateStore
from wire import mentions
from wire.errors import SlackError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    large_channel: int = 1000
    email_delay_s: int = 300
    tick_s: float = 1.0
    teams_refresh_s: float = 30.0
    people_cache: int = 200_000  # people (prefs, DND, email) kept, invalidated by the log
    channel_cache_members: int = 2_000_000  # conversations kept, counted by their members
    base_url: str = "http://localhost"  # permalinks and the preferences link in emails
    smtp_from: str = "notifications@flannel.local"


def permalink(base_url: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    link = f"{base_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


class Notifier:
    def __init__(
        self,
        reader: LogReader,
        source: Source,
        presence: Presence,
        desktop: DesktopSink,
        mailer: Mailer | None,
        state: StateStore,
        config: NotifierConfig = NotifierConfig(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reader = reader
        self.source = source
        self.people = PeopleCache(source, config.people_cache)
        self.channels = ChannelCache(source, config.channel_cache_members)
        self.presence = presence
        self.desktop = desktop
        self.mailer = mailer
        self.state = state
        self.config = config
        self.clock = clock
        self.offsets: dict[str, int] = {}
        self.schedule = Schedule()
        self.emails_sent = 0
        self.desktop_sent = 0
        #: what became of each email batch that fell due (:data:`notifier.decide.EMAIL_ACTIONS`)
        self.email_outcomes: dict[str, int] = dict.fromkeys(EMAIL_ACTIONS, 0)
        self._fresh = True
        self._subs: dict[str, Subscription] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        # One delivery pass at a time: the ticker and an event's own flush must never both see
        # an item due and deliver it twice.
        self._flushing = asyncio.Lock()
        self._dirty = False
        # Per workspace, the last offset whose event is fully applied, its delivery pass
        # included; ``settled`` waits on it (tests and the benchmark: no sleeps as sync).
        self.done: dict[str, int] = {}
        self._progress = asyncio.Condition()
        self._decide_config = Config(config.large_channel, config.email_delay_s)
        # (team, channel) -> (the conversation it was built from, the people version, audience);
        # bounded, like the channel cache, by the members it holds
        self._audiences: OrderedDict[tuple[str, str], tuple[Channel, int, Audience]] = OrderedDict()
        self._audience_members = 0
        self.audience_hits = 0
        self.audience_builds = 0
        if mailer is None:
            logger.warning("notifier: no SMTP configured, email notifications are off")

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        saved = await self.state.load()
        if saved is not None:
            self._fresh = False
            self.offsets = {str(k): int(v) for k, v in saved.get("offsets", {}).items()}
            self.schedule = Schedule.from_json(saved.get("schedule", []))
        await self.refresh_teams()
        if self._fresh:  # pin where a first start began: a crash before any event loses none
            async with self._lock:
                await self.save()
        self._fresh = False
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._ticker()))
        self._tasks.append(loop.create_task(self._refresher()))

    async def close(self) -> None:
        # A delivery pass in progress finishes (and records what it delivered) before the tasks
        # stop, so a graceful stop never sends a notification twice after a restart.
        async with self._flushing:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        for sub in self._subs.values():
            await sub.close()
        self._subs.clear()
        if self._dirty:
            await self.save()

    async def refresh_teams(self) -> None:
        for team in await self.source.teams():
            if team in self._subs:
                continue
            if team not in self.offsets:
                # a first start begins at the newest commit (never notifying about history,
                # even from a log the relay is still filling); a workspace seen later, at 0
                try:
                    self.offsets[team] = await self.source.head(team) if self._fresh else 0
                except SlackError as exc:  # e.g. its shard is not configured here: the others go on
                    logger.warning("notifier: workspace %s skipped (%s)", team, exc.code)
                    continue
            await self._follow(team)

    async def _follow(self, team: str) -> None:
        await self._applied(team, self.offsets[team])  # where it starts is applied already
        sub = await self.reader.subscribe(team, self.offsets[team])
        self._subs[team] = sub
        self._tasks.append(asyncio.get_running_loop().create_task(self._consume(team, sub)))

    async def _consume(self, team: str, sub: Subscription) -> None:
        try:
            async for offset, payload in sub:
                try:
                    await self.apply(team, offset, orjson.loads(payload))
                except Exception:
                    logger.exception("notifier: event %s/%s failed; skipped", team, offset)
                    async with self._lock:
                        self.offsets[team] = max(self.offsets.get(team, 0), offset)
                        self._dirty = True
                    await self._applied(team, offset)
        except TooOld as e:
            logger.warning("notifier: %s lost events below %s; resuming at the log floor", team, e.floor)
            self.people.forget_team(team)  # a preference change may be among the lost events
            self.channels.forget_team(team)  # and a membership change
            self.offsets[team] = e.floor - 1
            self._subs.pop(team, None)
            await self._follow(team)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_s)
            try:
                await self.flush()
            except Exception:
                logger.exception("notifier: delivery failed; retrying at the next tick")

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(self.config.teams_refresh_s)
            try:
                await self.refresh_teams()
            except Exception:
                logger.exception("notifier: listing workspaces failed")

    async def save(self) -> None:
        self._dirty = False
        await self.state.save({"offsets": dict(self.offsets), "schedule": self.schedule.to_json()})

    def stats(self) -> dict[str, Any]:
        """What ``/internal/stats`` shows: where it is, what it owes, what it delivered."""
        return {
            "offsets": dict(self.done),
            "owed": len(self.schedule),
            "desktop_sent": self.desktop_sent,
            "emails": dict(self.email_outcomes),
            "people_cache": {
                "entries": len(self.people),
                "hits": self.people.hits,
                "misses": self.people.misses,
            },
            "channel_cache": {
                "entries": len(self.channels),
                "hits": self.channels.hits,
                "loads": self.channels.loads,
            },
            "audience_cache": {
                "entries": len(self._audiences),
                "hits": self.audience_hits,
                "builds": self.audience_builds,
            },
        }

    # -- progress --------------------------------------------------------------------------

    async def _applied(self, team: str, offset: int) -> None:
        async with self._progress:
            self.done[team] = max(self.done.get(team, 0), offset)
            self._progress.notify_all()

    async def settled(self, team: str, offset: int) -> None:
        """Return once the event at ``offset`` of ``team`` (and every one before it) is applied,
        its delivery pass included. Callers bound the wait (``asyncio.timeout``)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.done.get(team, 0) >= offset)

    # -- events ----------------------------------------------------------------------------

    async def apply(self, team: str, offset: int, event: dict[str, Any]) -> None:
        """Apply one change-log event (once: offsets at or below the applied one are ignored)."""
        if offset <= self.offsets.get(team, 0):
            await self._applied(team, offset)
            return
        changed = False
        kind = event.get("type")
        self.people.observe(team, event)
        self.channels.observe(team, event)
        if kind == "message" and not event.get("imported"):  # an import is history, not news
            items = await self._decide(team, event)
            async with self._lock:
                changed = any([self.schedule.add(i) for i in items])
        elif kind == "channel_marked":
            user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
            if isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str):
                changed = self.schedule.mark_read(team, user, channel, ts) > 0
        elif kind == "message_deleted":
            channel, ts = event.get("channel"), event.get("deleted_ts")
            if isinstance(channel, str) and isinstance(ts, str):
                changed = self.schedule.cancel(team, channel, ts=ts) > 0
        elif kind == "member_left_channel":
            channel, user = event.get("channel"), event.get("user")
            if isinstance(channel, str) and isinstance(user, str):
                changed = self.schedule.cancel(team, channel, user=user) > 0
        async with self._lock:
            self.offsets[team] = offset
            self._dirty = True
            if changed:
                await self.save()
        if changed:
            await self.flush()
        await self._applied(team, offset)

    async def _decide(self, team: str, event: dict[str, Any]) -> list[Item]:
        channel_id, user, ts = event.get("channel"), event.get("user"), event.get("ts")
        if not (isinstance(channel_id, str) and isinstance(user, str) and isinstance(ts, str)):
            return []
        channel = await self.channels.channel(team, channel_id)
        if channel is None:
            return []
        thread_ts = event.get("thread_ts")
        message = Message(
            team,
            channel_id,
            user,
            str(event.get("text") or ""),
            ts,
            thread_ts if isinstance(thread_ts, str) else None,
            str(event.get("subtype") or ""),
        )
        participants: set[str] = set()
        parent = event.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("reply_users"), list):
            participants.update(u for u in parent["reply_users"] if isinstance(u, str))
        if isinstance(event.get("parent_user_id"), str):
            participants.add(event["parent_user_id"])
        audience = await self._audience(team, channel)
        # presence matters to <!here> only (which a large channel ignores): asked for then,
        # for the channel's members at once
        here = "here" in mentions.parse(message.text).broadcast
        if here and len(channel.members) <= self.config.large_channel:
            try:
                audience = audience.with_active(await self.presence.active_among(team, channel.members))
            except Exception:  # the message's other notifications still go out
                logger.warning(
                    "notifier: presence unavailable; <!here> in %s/%s reaches no one", team, channel_id
                )
        decision = decide_for(message, audience, self.clock(), participants, self._decide_config)
        if not decision.notify:
            return []
        team_name = await self.people.team_name(team)
        # the names the text and the frame show: the sender's, and those of the members it names
        named = {uid for uid in mentions.parse(message.text).users if uid in channel.members}
        people = await self.people.people(team, named | {user})
        sender = people[user].display if user in people else user

        def name_of(uid: str) -> str:
            return people[uid].name if uid in people else uid

        text = render.plain(message.text, name_of)
        frame = render.desktop_frame(team_name, team, channel, message, sender, text)
        link = permalink(self.config.base_url, channel_id, ts, message.thread_ts)
        where = render.subtitle(channel, sender)
        return [
            Item(
                team,
                n.user_id,
                channel_id,
                ts,
                n.reason,
                n.deliver_at,
                n.email_at,
                n.desktop,
                frame,
                sender,
                where,
                text,
                link,
            )
            for n in decision.notify
        ]

    async def _audience(self, team: str, channel: Channel) -> Audience:
        """``channel``'s :class:`~notifier.decide.Audience` (its members' prefs and DND state,
        indexed), built once and reused while the channel cache returns the same conversation
        (no membership change) and no person of the workspace was invalidated: a 32,000-member
        channel is not turned into 32,000 recipients per message. Who is active is not in it."""
        key = (team, channel.id)
        version = self.people.version(team)
        hit = self._audiences.get(key)
        if hit is not None and hit[0] is channel and hit[1] == version:
            self._audiences.move_to_end(key)
            self.audience_hits += 1
            return hit[2]
        people = await self.people.people(team, channel.members)
        audience = Audience.of(
            channel,
            {
                uid: Recipient(
                    uid, p.prefs, p.tz, False, p.snooze_until, p.dnd_ended_until, p.deleted, p.is_bot
                )
                for uid, p in people.items()
            },
        )
        self.audience_builds += 1
        if self.people.version(team) == version:  # no invalidation while it was read
            old = self._audiences.pop(key, None)
            if old is not None:
                self._audience_members -= len(old[0].members)
            self._audiences[key] = (channel, version, audience)
            self._audience_members += len(channel.members)
            while self._audience_members > self.config.channel_cache_members and len(self._audiences) > 1:
                _, (gone, _, _) = self._audiences.popitem(last=False)
                self._audience_members -= len(gone.members)
        return audience

    # -- delivery --------------------------------------------------------------------------

    async def flush(self, now: float | None = None) -> None:
        """Deliver what is due: held desktop notifications, then emails (batched per user)."""
        async with self._flushing:
            await self._flush(self.clock() if now is None else now)

    async def _flush(self, now: float) -> None:
        for item in self.schedule.due_desktop(now):
            await self.desktop.deliver(item.team, item.user, item.frame)
            self.desktop_sent += 1
            async with self._lock:
                self.schedule.desktop_done(item)
                await self.save()
        for batch in self.schedule.due_emails(now):
            person = (await self.people.people(batch.team, [batch.user])).get(batch.user)
            action = email_action(
                batch.user in await self.presence.active_among(batch.team, [batch.user]),
                mailer=self.mailer is not None,
                address=person.email if person is not None else "",
            )
            if self.mailer is not None and person is not None and action == "send":
                team_name = await self.people.team_name(batch.team)
                message = render.email(
                    sender=self.config.smtp_from,
                    to=person.email,
                    team_name=team_name,
                    items=[
                        {
                            "channel_name": i.channel_name,
                            "sender": i.sender,
                            "text": i.text,
                            "permalink": i.permalink,
                        }
                        for i in batch.items
                    ],
                    prefs_url=f"{self.config.base_url.rstrip('/')}/account/notifications",
                    idempotency_key=batch.idempotency_key,
                )
                await self.mailer.send(message)
                self.emails_sent += 1
            self.email_outcomes[action] += 1
            async with self._lock:
                self.schedule.email_done(batch)
                await self.save()
        if self._dirty:
            async with self._lock:
                await self.save()
