"""Notifier: how fast the pure decision is, and how long a mention takes to reach its user.

``notify.decide_per_s``: messages decided per second for an ``<!here>`` message with a
direct mention and highlight words in one channel of a 32,000-member workspace (the
large-channel rule silences the broadcast, and the decision still lists every active member it
silenced: the worst case), the way the notifier decides: :func:`notifier.decide.decide_for` over
the channel's :class:`~notifier.decide.Audience`, indexed once and reused while no member or
preference changes. ``notify.decide_cold_per_s``: the same with the index built for each
message (:func:`notifier.decide.decide`: what a cache miss costs, after a preference change).
``notify.decide_small_per_s``: the same message in a 50-member channel, where it notifies the
active members (presence given per message, as the notifier does).

``notify.email_p99_ms``: from ``messages.post`` returning (committed) to the email arriving at
a real SMTP server (aiosmtpd on loopback), through the outbox, relay, change log, notifier and
aiosmtplib, for mentions of away users whose email delay is 0. ``notify.lag_p99_ms``: from the
same commit to the ``desktop_notification`` on the ephemeral bus (what every edge hands to the
user's connections; the edge's own fanout is the ``fanout`` phase). Writers each own their
recipients and wait for one email before the next post, so a batch never merges two posts.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from typing import Any

from changelog import ChangeLog, LogReader, MemoryLog, RedisLog
from ephemeral.memory import MemoryBus
from loadtest.stats import percentile
from notifier.decide import Audience, Channel, Config, Message, Recipient, decide, decide_for
from notifier.desktop import BusDesktop
from notifier.mailer import SmtpConfig, SmtpMailer
from notifier.ports import NobodyActive
from notifier.service import Notifier, NotifierConfig
from notifier.state import MemoryState
from origin.notify_source import StoreSource
from origin.relay import Relay
from origin.service import conversations, messages, notifyprefs, teams, users
from origin.service.auth import Caller, authenticate, issue_token
from origin.store.shards import Store
from wire.bus import Envelope, UserFrame
from wire.notifyprefs import parse

TEXT = "<!here> the deploy is done, <@U00000002> please check the graphs"


def recipients(n: int) -> tuple[Channel, dict[str, Recipient]]:
    """A channel of ``n`` members: a third active, one in ten with highlight words, one in
    twenty muting the channel, one in fifty wanting every message."""
    ids = [f"U{i:08d}" for i in range(1, n + 1)]
    out = {}
    for i, uid in enumerate(ids):
        prefs: dict[str, Any] = {"email": {"enabled": i % 4 == 0}}
        if i % 10 == 0:
            prefs["highlight_words"] = ["deploy", "graphs", "incident"]
        if i % 20 == 0:
            prefs["channels"] = {"C1": {"muted": True}}
        if i % 50 == 0:
            prefs["desktop"] = "all"
        out[uid] = Recipient(uid, parse(prefs), active=i % 3 == 0)
    return Channel("C1", "channel", frozenset(ids), is_private=False, name="general"), out


def decide_rate(members: int, seconds: float, cold: bool = False) -> tuple[float, int]:
    """Decisions per second (at least three runs, about ``seconds`` in all), over an audience
    indexed once (``cold``: indexed for each message); and how many users were notified."""
    channel, people = recipients(members)
    active = frozenset(u for u, r in people.items() if r.active)
    message = Message("T1", "C1", "U00000001", TEXT, "1700000000.000100")
    audience = Audience.of(channel, people)
    expected = decide(message, channel, people, 1_700_000_000.0)  # warms the regex caches too
    runs = 0
    t0 = time.perf_counter()
    while runs < 3 or time.perf_counter() - t0 < seconds:
        if cold:
            decision = decide(message, channel, people, 1_700_000_000.0)
        else:
            # presence is asked for (and given) only where <!here> can notify: small channels
            if members <= Config().large_channel:
                decision = decide_for(message, audience.with_active(active), 1_700_000_000.0)
            else:
                decision = decide_for(message, audience, 1_700_000_000.0)
        runs += 1
    rate = runs / (time.perf_counter() - t0)
    if decision != expected:
        raise AssertionError("the indexed decision differs from decide()")
    return rate, len(decision.notify)


class Inbox:
    """aiosmtpd's handler: runs in the controller's thread, hands arrivals to our loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Event] = {}
        self.lock = threading.Lock()

    def expect(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        with self.lock:
            self.waiters[key] = event
        return event

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        key = str(email.message_from_bytes(envelope.content)["X-Flannel-Idempotency-Key"] or "").strip()
        with self.lock:
            self.arrived[key] = now
            waiter = self.waiters.get(key)
        if waiter is not None:
            self.loop.call_soon_threadsafe(waiter.set)
        return "250 OK"


async def workspace(store: Store, people: int) -> tuple[str, Caller, list[Caller], str]:
    """A poster and ``people`` recipients with email on, no delay, in one channel."""
    team = await teams.create_workspace(store, "Notify")
    poster_user = await users.create_user(store, team["id"], "poster", email="poster@example.com")
    poster = await authenticate(store, await issue_token(store, team["id"], poster_user["id"]))
    channel = await conversations.create(store, poster, "notify", False)
    out = []
    for i in range(people):
        user = await users.create_user(store, team["id"], f"r{i}", email=f"r{i}@example.com")
        caller = await authenticate(store, await issue_token(store, team["id"], user["id"]))
        await conversations.join(store, caller, channel["id"])
        await notifyprefs.set_prefs(store, caller, {"email": {"enabled": True, "delay_s": 0}})
        out.append(caller)
    return team["id"], poster, out, channel["id"]


async def email_latency(
    database_urls: list[str], redis_url: str | None, prefix: str, emails: int, writers: int = 4
) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    store = await Store.open(database_urls)
    log: ChangeLog = RedisLog(redis_url, prefix) if redis_url else MemoryLog()
    relay = Relay(store, log)  # the origin's own settings: woken by each commit
    relay.start()
    inbox = Inbox(asyncio.get_running_loop())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    bus = MemoryBus()
    frames: dict[tuple[str, str], float] = {}
    notifier: Notifier | None = None
    try:
        team_id, poster, people, channel = await workspace(store, writers * 4)

        def on_frame(envelope: Envelope) -> None:
            if isinstance(envelope, UserFrame):
                frames[(envelope.user, str(envelope.frame.get("ts")))] = time.perf_counter()

        await bus.subscribe(team_id, on_frame)
        notifier = Notifier(
            LogReader(log),  # type: ignore[arg-type]
            StoreSource(store),
            NobodyActive(),
            BusDesktop(bus),
            SmtpMailer(SmtpConfig("127.0.0.1", port)),
            MemoryState(),
            NotifierConfig(tick_s=0.5),
        )
        await notifier.start()
        email_ms: list[float] = []
        lag_ms: list[float] = []

        async def writer(w: int) -> None:
            mine = people[w::writers]
            for i in range(w, emails, writers):
                to = mine[i % len(mine)]
                sent, _ = await messages.post(store, poster, channel, f"<@{to.user_id}> build {i} is red")
                t0 = time.perf_counter()
                key = f"{team_id}.{to.user_id}.{channel}.{sent['ts']}.email"
                arrived = inbox.expect(key)
                if key not in inbox.arrived:
                    await asyncio.wait_for(arrived.wait(), 60)
                email_ms.append(max(0.0, inbox.arrived[key] - t0) * 1000)
                shown = frames.get((to.user_id, sent["ts"]))
                if shown is not None:
                    lag_ms.append(max(0.0, shown - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        elapsed = time.perf_counter() - t0
        return {
            "notify.emails": len(email_ms),
            "notify.emails_per_s": round(len(email_ms) / elapsed, 1),
            "notify.email_p50_ms": round(percentile(email_ms, 50), 2),
            "notify.email_p99_ms": round(percentile(email_ms, 99), 2),
            "notify.lag_p50_ms": round(percentile(lag_ms, 50), 2),
            "notify.lag_p99_ms": round(percentile(lag_ms, 99), 2),
            "notify.desktop_frames": len(lag_ms),
            "notify.backend": ("mysql" if database_urls[0].startswith("mysql") else "sqlite")
            + ("+redis" if redis_url else "+memory"),
        }
    finally:
        if notifier is not None:
            await notifier.close()
        controller.stop()
        await relay.stop()
        await log.close()
        await store.close()


async def run(
    database_urls: list[str], redis_url: str | None, prefix: str, emails: int, members: int = 32000
) -> dict[str, Any]:
    rate, notified = await asyncio.to_thread(decide_rate, members, 3.0)
    cold_rate, _ = await asyncio.to_thread(decide_rate, members, 2.0, True)
    small_rate, small_notified = await asyncio.to_thread(decide_rate, 50, 1.0)
    out: dict[str, Any] = {
        "notify.members": members,
        "notify.decide_per_s": round(rate, 1),
        "notify.decide_cold_per_s": round(cold_rate, 1),
        "notify.decide_notified": notified,
        "notify.decide_small_per_s": round(small_rate, 1),
        "notify.decide_small_notified": small_notified,
    }
    return out | await email_latency(database_urls, redis_url, prefix, emails)
