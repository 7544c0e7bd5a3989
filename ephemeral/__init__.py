"""The ephemeral bus: presence, typing and per-user frames between edges, never in the log.

The envelope format is :mod:`wire.bus` (pure); this package holds the ports and the adapters:

``Publisher``   ``await publish(envelope)``: send one :data:`wire.bus.Envelope` to every
                subscriber of its workspace (every edge holding it, in every region). At most
                once: a publish never raises for a lost message; it raises only for a closed bus.
``Subscriber``  ``await subscribe(team_id, handler)`` / ``await unsubscribe(team_id)``: hear the
                envelopes of one workspace (an edge subscribes to the workspaces it holds);
                ``handler`` is called with each decoded envelope, in the bus reader's task,
                and must not block. Malformed envelopes are dropped (and logged), never handed on.
``Bus``         both, plus ``start()`` / ``close()``.
``OnlineStore`` per-edge connection counts with a TTL (:mod:`ephemeral.online`): what the
                origin reads to answer ``users.getPresence``, and what a newly subscribed edge
                seeds its view with. An edge that dies stops counting when its TTL runs out.

Adapters: :class:`~ephemeral.memory.MemoryBus` / :class:`~ephemeral.memory.MemoryOnline`
(in-process, for the embedded stack and tests) and :class:`~ephemeral.redis_bus.RedisBus` /
:class:`~ephemeral.redis_bus.RedisOnline` (Redis pub/sub, one channel per workspace).

This package imports only :mod:`wire` (and Redis); edges, the origin's composition and the
notifier use it.
"""

from __future__ import annotations

from ephemeral.ports import Bus, Handler, OnlineStore, Publisher, Subscriber

__all__ = ["Bus", "Handler", "OnlineStore", "Publisher", "Subscriber"]
