"""Presence and typing across two edges over the ephemeral bus (Redis pub/sub when a URL is
given, in-process otherwise): the real :class:`flannel.presence.hub.PresenceHub` of two edges,
each with its own bus connection and the shared online store, fed by sessions without sockets.

The scenario (the issue's): a 32,000-user workspace where ``churn`` users connect and
disconnect over ``duration_s`` (scaled to a minute in the figures), each connected client
subscribed to 50 of the churning users (people on screen), split over the two edges. It runs
twice, side by side: subscription-scoped, and the baseline where every client gets every
presence change (each subscribed to every churning user, the same code path otherwise).

- ``presence.events_per_client``: presence updates (a user in a ``presence_change``) received
  per connection per minute, subscription-scoped; ``presence.baseline_events_per_client`` the
  baseline's; ``presence.fewer_x`` their ratio (goal >= 20);
- ``presence.change_p99_ms``: a connect or disconnect on one edge to the ``presence_change`` at
  a subscriber on the other, coalescing window included; ``presence.bus_p99_ms`` to the other
  edge applying it (the window excluded);
- ``presence.bus_msgs_per_s``: envelopes published on the bus per second in that scenario;
- ``typing.p99_ms``: a ``typing`` on one edge to the other edge handing it to its sessions.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from ephemeral.factory import Ephemeral
from flannel.presence.hub import PresenceHub
from flannel.presence.settings import PresenceSettings
from flannel.rtm.delivery import Delivery
from flannel.rtm.session import Session
from loadtest.stats import percentile, ratio
from wire import bus

WORKSPACE_USERS = 32_000
SUBSCRIBED = 50


class Client(Session):
    """A connection that counts the presence updates it is handed, and when."""

    def __init__(self, user_id: str, team_id: str, on_frame: Callable[[bytes], None]) -> None:
        super().__init__(user_id, team_id)
        self.updates = 0
        self.subscribing = False  # the current presence a subscription is answered with: no latency
        self._on_frame = on_frame

    def deliver(self, delivery: Delivery) -> bool:
        frame = orjson.loads(delivery.frame)
        if frame.get("type") == "presence_change":
            self.updates += len(frame["users"])
            if not self.subscribing:
                self._on_frame(delivery.frame)
        return True


async def _scenario(
    redis_url: str | None, prefix: str, churn: int, duration_s: float, everyone: bool
) -> dict[str, Any]:
    rng = random.Random(17)
    team = f"TPRES{int(time.time() * 1000) % 10**8}{int(everyone)}"
    users = [f"U{i:08d}" for i in range(WORKSPACE_USERS)]
    churning = rng.sample(users, churn)
    ephemeral = Ephemeral(redis_url, prefix)
    settings = PresenceSettings(ttl_s=30.0, coalesce_s=0.25)
    changed_at: dict[str, float] = {}  # user -> when their last connect/disconnect happened
    latency: list[float] = []
    bus_latency: list[float] = []
    typing_latency: list[float] = []
    typing_sent: dict[str, float] = {}

    def on_frame(frame: bytes) -> None:
        now = time.perf_counter()
        for user in orjson.loads(frame)["users"]:
            if user in changed_at:
                latency.append(now - changed_at[user])

    async def manual(team_id: str, user_id: str) -> bool:
        return False

    hubs: list[PresenceHub] = []
    edges = ("edge-bench-a", "edge-bench-b")

    def on_typing(team_id: str, channel: str, user: str) -> None:
        sent = typing_sent.pop(f"{channel}/{user}", None)
        if sent is not None:
            typing_latency.append(time.perf_counter() - sent)

    buses = [ephemeral.bus() for _ in edges]
    for edge_id, edge_bus in zip(edges, buses, strict=True):
        hub = PresenceHub(
            edge_id,
            settings,
            edge_bus,
            ephemeral.online,
            manual_of=manual,
            on_typing=on_typing,
            wake=lambda sessions: None,
        )
        hubs.append(hub)
    for hub in hubs:  # the window excluded: when the other edge applied the report
        original = hub.on_envelope

        def applied(team_id: str, envelope: bus.Envelope, original: Any = original) -> None:
            if isinstance(envelope, bus.Presence) and envelope.users:
                now = time.perf_counter()
                bus_latency.extend(now - changed_at[u] for u in envelope.users if u in changed_at)
            original(team_id, envelope)

        hub.on_envelope = applied  # type: ignore[method-assign]
    # An observer on each edge keeps the workspace joined for the whole run.
    for hub in hubs:
        await hub.open(Client("UWATCHER", team, lambda f: None))
    await asyncio.sleep(0.5)

    plan = []
    for i, user in enumerate(churning):
        start = rng.uniform(0, duration_s * 0.5)
        plan.append((start, "open", i, user))
        plan.append((start + rng.uniform(duration_s * 0.25, duration_s * 0.5), "close", i, user))
    plan.sort()
    clients: dict[int, Client] = {}
    t0 = time.perf_counter()
    published_before = sum(getattr(b, "published", 0) for b in buses)
    for at, what, i, user in plan:
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        hub = hubs[i % 2]
        changed_at[user] = time.perf_counter()
        if what == "open":
            client = clients[i] = Client(user, team, on_frame)
            await hub.open(client)
            watched = churning if everyone else rng.sample(churning, SUBSCRIBED)
            client.subscribing = True
            hub.subscribe(client, [u for u in watched if u != user])
            client.subscribing = False
            if i % 20 == 0:  # some type, too: measured on the other edge
                typing_sent[f"C1/{user}"] = time.perf_counter()
                hub.publish_typing(team, "C1", user)
        else:
            hub.leave(clients[i])
    await asyncio.sleep(1.0)  # the last batches
    elapsed = time.perf_counter() - t0
    published = sum(getattr(b, "published", 0) for b in buses) - published_before
    for hub in hubs:
        await hub.close()
    await ephemeral.close()
    per_minute = 60.0 / duration_s
    updates = [c.updates for c in clients.values()]
    return {
        "events_per_client": sum(updates) / max(1, len(updates)) * per_minute,
        "change_p99_ms": percentile(latency, 99) * 1000 if latency else None,
        "bus_p99_ms": percentile(bus_latency, 99) * 1000 if bus_latency else None,
        "typing_p99_ms": percentile(typing_latency, 99) * 1000 if typing_latency else None,
        "bus_msgs_per_s": published / elapsed if redis_url else None,
    }


async def run(
    redis_url: str | None, prefix: str, churn: int = 2000, duration_s: float = 60.0
) -> dict[str, Any]:
    scoped = await _scenario(redis_url, prefix, churn, duration_s, everyone=False)
    baseline = await _scenario(redis_url, prefix, churn, duration_s, everyone=True)
    return {
        "presence.events_per_client": round(scoped["events_per_client"], 1),
        "presence.baseline_events_per_client": round(baseline["events_per_client"], 1),
        "presence.fewer_x": ratio(baseline["events_per_client"], scoped["events_per_client"]),
        "presence.change_p99_ms": _ms(scoped["change_p99_ms"]),
        "presence.bus_p99_ms": _ms(scoped["bus_p99_ms"]),
        "presence.bus_msgs_per_s": _ms(scoped["bus_msgs_per_s"]),
        "presence.churn_users": churn,
        "presence.duration_s": duration_s,
        "typing.p99_ms": _ms(scoped["typing_p99_ms"]),
    }


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
