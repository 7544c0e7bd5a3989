"""The notifier loop against the real origin (in-process, SQLite and MariaDB), its change log,
and a real SMTP server (aiosmtpd on a loopback port)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from changelog import LogReader, MemoryLog
from ephemeral.memory import MemoryBus, MemoryOnline
from notifier.desktop import BusDesktop
from notifier.mailer import SmtpConfig, SmtpMailer
from notifier.ports import MemorySink, Person, SetPresence
from notifier.presence import OnlinePresence
from notifier.service import Notifier, NotifierConfig
from notifier.state import FileState, MemoryState
from origin.app import create_app
from origin.notify_source import StoreSource
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.conftest import free_port
from tests.factories import Team, make_team
from tests.origin.calls import head
from wire.bus import Counts, UserFrame

pytestmark = pytest.mark.e2e


class CountingSource(StoreSource):
    """The real source over the origin's store, counting the reads of people."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.people_reads = 0

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]:
        self.people_reads += 1
        return await super().people(team_id, user_ids)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class World:
    store: Store
    log: MemoryLog
    http: httpx.AsyncClient
    team: Team
    inbox: Inbox
    smtp_port: int
    now: list[float] = field(default_factory=lambda: [1_000_000.0])
    presence: SetPresence = field(default_factory=SetPresence)
    sink: MemorySink = field(default_factory=MemorySink)
    state: Any = field(default_factory=MemoryState)
    source: StoreSource | None = None

    async def call(self, method: str, token: str, **args: Any) -> dict[str, Any]:
        r = await self.http.post(f"/api/{method}", headers={"Authorization": f"Bearer {token}"}, json=args)
        body: dict[str, Any] = r.json()
        assert body["ok"], (method, body)
        return body

    def notifier(self) -> Notifier:
        config = NotifierConfig(email_delay_s=300, tick_s=3600, base_url="https://flannel.test")
        mailer = SmtpMailer(SmtpConfig.from_url(f"smtp://127.0.0.1:{self.smtp_port}"))
        return Notifier(
            LogReader(self.log, block_s=0.05),
            self.source or StoreSource(self.store),
            self.presence,
            self.sink,
            mailer,
            self.state,
            config,
            clock=lambda: self.now[0],
        )

    async def caught_up(self, notifier: Notifier) -> None:
        """Every event committed so far is applied, its delivery pass included."""
        target = await head(self.store, self.team.id)
        try:
            async with asyncio.timeout(10):
                await notifier.settled(self.team.id, target)
        except TimeoutError:
            raise AssertionError(f"notifier at {notifier.done}, log at {target}") from None

    def frames_for(self, user: str) -> list[dict[str, Any]]:
        return [f for _, u, f in self.sink.frames if u == user]


@pytest.fixture
async def world(store: Store, smtp: tuple[Inbox, int]) -> AsyncIterator[World]:
    log = MemoryLog()
    team = await make_team(store)
    app = create_app(OriginSettings(database_urls=[]), store=store, changelog=log)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://o") as http:
            yield World(store, log, http, team, smtp[0], smtp[1])


async def started(world: World) -> Notifier:
    n = world.notifier()
    await n.start()
    await world.caught_up(n)
    return n


def bodies(message: Message) -> tuple[str, str]:
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for p in message.walk()
        if not p.is_multipart()
    }
    return parts["text/plain"], parts["text/html"]


async def test_online_mention_gives_a_desktop_notification_and_no_email(world: World) -> None:
    t = world.team
    await world.call("users.prefs.set", t.bob.token, prefs={"email": {"enabled": True}})
    world.presence.active.add((t.id, t.bob.id))
    n = await started(world)
    try:
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"ping <@{t.bob.id}>")
        await world.caught_up(n)
        (frame,) = world.frames_for(t.bob.id)
        assert frame["type"] == "desktop_notification" and frame["channel"] == t.general
        assert frame["title"] == "Test Team" and frame["subtitle"] == "#general"
        assert frame["content"] == "Alice Example: ping @bob"
        world.now[0] += 301
        await n.flush()
        assert world.inbox.messages == [] and world.frames_for(t.alice.id) == []
    finally:
        await n.close()


async def test_away_user_gets_one_email_with_both_messages_after_the_delay(world: World) -> None:
    t = world.team
    await world.call("users.prefs.set", t.carol.token, prefs={"email": {"enabled": True}})
    n = await started(world)
    try:
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.carol.id}> first")
        world.now[0] += 10
        await world.call("chat.postMessage", t.bob.token, channel=t.general, text=f"<@{t.carol.id}> second")
        await world.caught_up(n)
        assert len(world.frames_for(t.carol.id)) == 2
        world.now[0] += 280
        await n.flush()
        assert world.inbox.messages == []  # not yet: 290s after the first
        world.now[0] += 20
        await n.flush()
        (mail,) = world.inbox.messages
        assert mail["To"] == "carol@example.com" and "Test Team" in mail["Subject"]
        assert mail["X-Flannel-Idempotency-Key"].strip().startswith(f"{t.id}.{t.carol.id}.")
        text, html = bodies(mail)
        assert "@carol first" in text and "@carol second" in text and "#general" in text
        assert "https://flannel.test/archives/" in text and "notification preferences" in text
        assert "@carol second" in html and "<a href=" in html
        world.now[0] += 1000
        await n.flush()
        assert len(world.inbox.messages) == 1
    finally:
        await n.close()


async def test_a_read_before_the_delay_cancels_the_email(world: World) -> None:
    t = world.team
    await world.call("users.prefs.set", t.carol.token, prefs={"email": {"enabled": True, "delay_s": 60}})
    n = await started(world)
    try:
        posted = await world.call(
            "chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.carol.id}>"
        )
        await world.call("conversations.mark", t.carol.token, channel=t.general, ts=posted["ts"])
        await world.caught_up(n)
        world.now[0] += 120
        await n.flush()
        assert world.inbox.messages == [] and len(n.schedule) == 0
    finally:
        await n.close()


async def test_dnd_holds_everything_until_it_ends(world: World) -> None:
    t = world.team
    n = await started(world)
    try:
        # the snooze is set in real time; the notifier's clock is the test's
        snooze = await world.call("dnd.setSnooze", t.bob.token, num_minutes=10)
        world.now[0] = snooze["snooze_endtime"] - 600
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.bob.id}> urgent")
        await world.caught_up(n)
        assert world.frames_for(t.bob.id) == []
        world.now[0] = snooze["snooze_endtime"] - 1
        await n.flush()
        assert world.frames_for(t.bob.id) == []
        world.now[0] = snooze["snooze_endtime"]
        await n.flush()
        assert [f["content"] for f in world.frames_for(t.bob.id)] == ["Alice Example: @bob urgent"]
    finally:
        await n.close()


async def test_muted_channel_is_silent_except_direct_mentions(world: World) -> None:
    t = world.team
    await world.call("users.prefs.set", t.bob.token, prefs={"channels": {t.general: {"muted": True}}})
    n = await started(world)
    try:
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="<!channel> lunch")
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.bob.id}> you")
        await world.caught_up(n)
        assert [f["content"] for f in world.frames_for(t.bob.id)] == ["Alice Example: @bob you"]
        assert [f["content"] for f in world.frames_for(t.carol.id)] == ["Alice Example: @channel lunch"]
    finally:
        await n.close()


async def test_private_text_never_reaches_a_non_member_or_another_workspace(world: World) -> None:
    t = world.team
    other = await make_team(world.store, ("dave", "erin"))
    n = await started(world)
    try:
        secret = f"<!channel> <@{t.carol.id}> <@{other.users[0].id}> the secret"
        await world.call("chat.postMessage", t.alice.token, channel=t.private, text=secret)
        await world.caught_up(n)
        assert {u for _, u, _ in world.sink.frames} == {t.bob.id}
        assert all(team == t.id for team, _, _ in world.sink.frames)
    finally:
        await n.close()


async def test_restart_resumes_from_the_saved_offset_and_sends_each_email_once(
    world: World, tmp_path: Any
) -> None:
    t = world.team
    world.state = FileState(tmp_path / "notifier.json")
    await world.call("users.prefs.set", t.carol.token, prefs={"email": {"enabled": True}})
    n = await started(world)
    await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.carol.id}> one")
    await world.caught_up(n)
    await n.close()  # stopped with the email still owed
    assert len(world.frames_for(t.carol.id)) == 1

    await world.call("chat.postMessage", t.bob.token, channel=t.general, text=f"<@{t.carol.id}> two")
    again = await started(world)  # a new process: same state file, a new reader
    try:
        # started() waited for every event to be applied, delivery included: had the event
        # before the saved offset been replayed, its frame would be here by now
        assert len(world.frames_for(t.carol.id)) == 2
        world.now[0] += 301
        await again.flush()
        await again.flush()
        (mail,) = world.inbox.messages
        text, _ = bodies(mail)
        assert "@carol one" in text and "@carol two" in text
    finally:
        await again.close()
    third = await started(world)
    try:
        world.now[0] += 1000
        await third.flush()
        assert len(world.inbox.messages) == 1 and len(world.frames_for(t.carol.id)) == 2
    finally:
        await third.close()


async def test_prefs_are_cached_and_a_change_takes_effect_at_the_next_message(world: World) -> None:
    t = world.team
    world.source = source = CountingSource(world.store)
    n = await started(world)
    try:
        for i in range(3):
            await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<!channel> {i}")
        await world.caught_up(n)
        assert len(world.frames_for(t.bob.id)) == 3
        assert source.people_reads == 1  # the channel's people, read once for three messages
        await world.call("users.prefs.set", t.bob.token, prefs={"channels": {t.general: {"muted": True}}})
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="<!channel> 3")
        await world.call("dnd.setSnooze", t.carol.token, num_minutes=60)
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="<!channel> 4")
        await world.caught_up(n)
        assert [f["content"] for f in world.frames_for(t.bob.id)][3:] == []  # muted, at once
        carol = [f["content"] for f in world.frames_for(t.carol.id)]
        assert carol[3:] == ["Alice Example: @channel 3"]  # snoozed from the next message on
        assert source.people_reads == 3  # one re-read per change, not one per message
    finally:
        await n.close()


async def test_here_and_email_follow_the_edges_presence_and_frames_go_on_the_bus(world: World) -> None:
    """The production adapters in-process (as ``flannel up`` runs them): presence from the
    online store the edges report to, desktop frames published on the ephemeral bus."""
    t = world.team
    online, bus = MemoryOnline(), MemoryBus()
    heard: list[UserFrame] = []
    await bus.subscribe(t.id, lambda e: heard.append(e) if isinstance(e, UserFrame) else None)
    await online.report(t.id, "edge-a", {t.bob.id: Counts(1, 1, 0.0)}, 60)
    await online.report(t.id, "edge-b", {t.carol.id: Counts(0, 2, 0.0)}, 60)  # auto-away
    for member in (t.bob, t.carol):
        await world.call("users.prefs.set", member.token, prefs={"email": {"enabled": True, "delay_s": 0}})
    world.presence = OnlinePresence(online)  # type: ignore[assignment]
    world.sink = BusDesktop(bus)  # type: ignore[assignment]
    n = await started(world)
    try:
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="<!here> standup")
        await world.caught_up(n)
        assert [(e.user, e.frame["content"]) for e in heard] == [(t.bob.id, "Alice Example: @here standup")]
        assert heard[0].sender == "notifier" and heard[0].team == t.id
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="<!channel> lunch")
        await world.caught_up(n)
        assert {e.user for e in heard[1:]} == {t.bob.id, t.carol.id}
        (mail,) = world.inbox.messages  # carol is away on every edge: emailed; bob is active
        assert mail["To"] == "carol@example.com"
        assert n.email_outcomes["active"] == 2 and n.email_outcomes["send"] == 1  # bob: both skipped
    finally:
        await n.close()


async def test_a_member_who_left_is_never_told_though_the_channel_is_cached(world: World) -> None:
    t = world.team
    n = await started(world)
    try:
        await world.call("chat.postMessage", t.alice.token, channel=t.private, text="<!channel> one")
        await world.caught_up(n)
        assert [f["content"] for f in world.frames_for(t.bob.id)] == ["Alice Example: @channel one"]
        await world.call("conversations.kick", t.alice.token, channel=t.private, user=t.bob.id)
        await world.call(
            "chat.postMessage", t.alice.token, channel=t.private, text=f"<!channel> <@{t.bob.id}> two"
        )
        await world.call("conversations.invite", t.alice.token, channel=t.private, users=t.carol.id)
        await world.call("chat.postMessage", t.alice.token, channel=t.private, text="<!channel> three")
        await world.caught_up(n)
        assert len(world.frames_for(t.bob.id)) == 1  # nothing after he left, mentioned or not
        assert [f["content"] for f in world.frames_for(t.carol.id)] == ["Alice Example: @channel three"]
        assert n.channels.loads == 3 and n.channels.hits == 0  # read again after each change
        await world.call("chat.postMessage", t.alice.token, channel=t.private, text="<!channel> four")
        await world.caught_up(n)
        assert n.channels.hits == 1
    finally:
        await n.close()


async def test_a_channels_audience_is_indexed_once_and_rebuilt_after_a_change(world: World) -> None:
    t = world.team
    n = await started(world)
    try:
        for i in range(3):
            await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.bob.id}> {i}")
        await world.caught_up(n)
        assert n.stats()["audience_cache"] == {"entries": 1, "hits": 2, "builds": 1}
        await world.call("users.prefs.set", t.carol.token, prefs={"highlight_words": ["deploy"]})
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="the deploy is out")
        await world.caught_up(n)
        assert n.stats()["audience_cache"]["builds"] == 2  # carol's new words, seen at once
        assert [f["content"] for f in world.frames_for(t.carol.id)] == ["Alice Example: the deploy is out"]
        await world.call("chat.postMessage", t.alice.token, channel=t.general, text="deploy again")
        await world.caught_up(n)
        assert n.stats()["audience_cache"] == {"entries": 1, "hits": 3, "builds": 2}
        assert len(world.frames_for(t.carol.id)) == 2
    finally:
        await n.close()
