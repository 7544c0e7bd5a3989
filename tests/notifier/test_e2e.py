"""The notifier as it runs in production, every part a real process on loopback: the origin, an
edge and the router on Redis, ``flannel notifier`` following the change log and publishing on
the ephemeral bus, aiosmtpd as the SMTP server, and a real WebSocket client.

A mention of a connected (active) user reaches their WebSocket as Slack's
``desktop_notification`` and is not emailed; nothing comes from a channel they muted; a user
with no connection (away) gets the email."""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from aiosmtpd.controller import Controller

from ephemeral.redis_bus import RedisOnline
from tests.conftest import ServerProcess, free_port
from tests.flannel.conftest import Stack, stack  # noqa: F401  (the fixture)
from tests.notifier.conftest import notifier_args
from wire.http import SERVICE_HEADER

SECRET = "dev-secret-change-me"


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
    # aiosmtpd logs each connection (info) from its own thread, even after pytest's capture ends
    quiet = logging.getLogger("mail.log")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        yield inbox, port
    finally:
        controller.stop()
        quiet.setLevel(level)


async def api(base: str, method: str, token: str, **args: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base}/api/{method}", json=args, headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = r.json()
    assert body["ok"], (method, body)
    return body


async def until(what: str, check: Any, timeout_s: float = 15.0) -> Any:
    """Poll ``check`` (async, a truthy value when done) until it holds; fail naming ``what``."""
    for _ in range(int(timeout_s / 0.05)):
        if value := await check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout_s}s: {what}")


async def next_notification(sock: Any, wait_s: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(wait_s):
        while True:
            frame: dict[str, Any] = orjson.loads(await sock.recv())
            if frame.get("type") == "desktop_notification":
                return frame


async def test_desktop_notification_to_a_real_connection_and_email_to_the_away(
    stack: Stack,  # noqa: F811
    start_server: type[ServerProcess],
    smtp: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, smtp_port = smtp
    t = stack.team
    origin = stack.origin.url
    for member in (t.bob, t.carol):
        await api(origin, "users.prefs.set", member.token, prefs={"email": {"enabled": True, "delay_s": 0}})
    await api(origin, "users.prefs.set", t.bob.token, prefs={"channels": {t.general: {"muted": True}}})
    args = notifier_args(stack, tmp_path / "notifier", smtp_port, "--web-url", "https://flannel.test")
    notifier = start_server(args, free_port()).start()

    async def stats() -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            r = await http.get(notifier.url + "/internal/stats", headers={SERVICE_HEADER: SECRET})
        body: dict[str, Any] = r.json()
        return body

    online = RedisOnline(stack.redis_url, stack.prefix)
    placed = await api(stack.router.url if stack.router else "", "rtm.connect", t.bob.token)
    try:
        async with websockets.connect(placed["url"]) as bob:
            assert orjson.loads(await bob.recv())["type"] == "hello"

            async def bob_active() -> bool:
                reports = await online.read(t.id, t.bob.id)
                return any(c.active > 0 for users in reports.values() for c in users.values())

            await until("bob is active on the edge", bob_active)
            # muted for bob: nothing reaches him; carol (no connection) is told, by email
            await api(origin, "chat.postMessage", t.alice.token, channel=t.general, text="<!channel> lunch")
            await api(
                origin, "chat.postMessage", t.alice.token, channel=t.private, text=f"<@{t.bob.id}> ping"
            )
            frame = await next_notification(bob)  # the first one bob gets is the mention
            assert frame["channel"] == t.private and frame["content"] == "Alice Example: @bob ping"
            expected = {"type", "title", "subtitle", "msg", "content", "channel", "launchUri"}
            expected |= {"avatarImage", "ssbFilename", "imageUri", "isShared", "isChannelInvite", "event_ts"}
            assert expected <= set(frame) and frame["title"] == "Test Team"
            assert frame["subtitle"] == "#secret-plans"

            async def settled() -> dict[str, Any] | None:
                s = await stats()
                done = s["owed"] == 0 and s["emails"]["send"] + s["emails"]["active"] >= 2
                return s if done else None

            final = await until("both emails are settled", settled)
            # bob was active: his mention was not emailed; carol's broadcast was
            assert final["emails"] == {"send": 1, "active": 1, "no_address": 0, "no_mailer": 0}
            (mail,) = inbox.messages
            assert (
                mail["To"] == "carol@example.com" and mail["Subject"] == "[Test Team] New message in #general"
            )
            assert (await stats())["desktop_sent"] == 2  # carol's frame went to no connection
            # unauthenticated callers see no stats
            async with httpx.AsyncClient() as http:
                assert (await http.get(notifier.url + "/internal/stats")).status_code == 401
    finally:
        await online.close()
        notifier.stop()
