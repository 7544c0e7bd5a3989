"""The notifier loop against the real origin (in-process, SQLite and MariaDB), its change log,
and a real SMTP server (aiosmtpd on a loopback port)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from changelog import LogReader, MemoryLog
from notifier.mailer import SmtpConfig, SmtpMailer
from notifier.ports import MemorySink, SetPresence
from notifier.service import Notifier, NotifierConfig
from notifier.state import FileState, MemoryState
from origin.app import create_app
from origin.notify_source import StoreSource
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.conftest import free_port
from tests.factories import Team, make_team
from tests.origin.calls import head

pytestmark = pytest.mark.e2e


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
            StoreSource(self.store),
            self.presence,
            self.sink,
            mailer,
            self.state,
            config,
            clock=lambda: self.now[0],
        )

    async def caught_up(self, notifier: Notifier) -> None:
        target = await head(self.store, self.team.id)
        for _ in range(400):
            if notifier.offsets.get(self.team.id, 0) >= target:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"notifier at {notifier.offsets}, log at {target}")

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
        for _ in range(300):  # the offset moves before the delivery pass it triggers ends
            if len(world.frames_for(t.carol.id)) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert len(world.frames_for(t.carol.id)) == 2  # the event before the offset not replayed
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
