"""Locust scenarios: thin clients (edge) against fat clients (``rtm.start`` at the origin).

``ThinClientUser``: ``rtm.connect`` (at the router when one is configured, else at an edge),
WebSocket, hello; then queries on demand over the socket (``users.info`` batches, prefix
``users.search``, ``conversations.history`` forwarded to the origin), posting through the
socket, and reading events. ``FatClientUser``: ``rtm.start`` at the origin (the whole
workspace), queries and posts at the origin over HTTP (``users.info`` per id, since the origin
has no batch; ``users.lookupByEmail`` for a search), and events through an edge's WebSocket
(the origin has no event socket). Every step is a locust request; every message received
is one too (``WS event``, response time = post to receipt, by wall clock: run the workers on
one host or with synchronised clocks).

Configuration: ``--flannel-config PATH`` (or ``FLANNEL_LOCUST_CONFIG``), a JSON file as
written by ``python -m loadtest.stack`` (``origin_url``, ``edge_urls``, ``router_url``,
``tokens``, ``channel``, ``user_ids``) or ``flannel up``'s ``.flannel/demo.json`` together
with ``--origin-url`` and ``--edge-url``. See ``loadtest/README.md``.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
import orjson
import websocket
from gevent.event import AsyncResult  # type: ignore[import-untyped]
from locust import User, between, events, task  # type: ignore[attr-defined]
from locust.clients import HttpSession

MARK = "locust-mark:"
_counter = itertools.count()


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    parser.add_argument(
        "--flannel-config",
        default=os.environ.get("FLANNEL_LOCUST_CONFIG", ""),
        help="JSON with origin_url, edge_urls, tokens, channel (python -m loadtest.stack)",
    )
    parser.add_argument("--origin-url", default=os.environ.get("FLANNEL_ORIGIN_URL", ""))
    parser.add_argument("--edge-url", default=os.environ.get("FLANNEL_EDGE_URL", ""), help="comma-separated")
    parser.add_argument("--router-url", default=os.environ.get("FLANNEL_ROUTER_URL", ""))


class Config:
    """What the scenarios need, from the config file and the flags (flags win)."""

    def __init__(self, options: Any) -> None:
        path = getattr(options, "flannel_config", "") or os.environ.get("FLANNEL_LOCUST_CONFIG", "")
        raw: dict[str, Any] = orjson.loads(Path(path).read_bytes()) if path else {}
        self.origin_url: str = getattr(options, "origin_url", "") or raw.get("origin_url") or ""
        edges = getattr(options, "edge_url", "") or ",".join(raw.get("edge_urls") or [])
        self.edge_urls = [e.strip().rstrip("/") for e in edges.split(",") if e.strip()]
        self.router_url: str = getattr(options, "router_url", "") or raw.get("router_url") or ""
        self.tokens = [t["token"] if isinstance(t, dict) else str(t) for t in raw.get("tokens", [])]
        self.channel: str = raw.get("channel") or raw.get("channel_ids", {}).get("general", "")
        self.user_ids: list[str] = raw.get("user_ids") or [t.split("-")[2] for t in self.tokens]
        if not (self.origin_url and self.edge_urls and self.tokens and self.channel):
            raise RuntimeError("need origin_url, edge_urls, tokens and channel: see loadtest/README.md")


_config: Config | None = None


def config(user: User) -> Config:
    global _config
    if _config is None:
        _config = Config(user.environment.parsed_options)
    return _config


class RtmSocket:
    """A WebSocket with a reader greenlet: replies go to their waiters, marked messages are
    reported as ``WS event`` requests."""

    def __init__(self, user: User, url: str) -> None:
        self.user = user
        self.ws = websocket.create_connection(url, timeout=30, enable_multithread=True)
        self.ids = itertools.count(1)
        self.waiting: dict[int, AsyncResult] = {}
        self.hello = orjson.loads(self.ws.recv())
        self.ws.settimeout(None)  # idle is fine: the edge pings, the reader just waits
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            try:
                data = self.ws.recv()
            except Exception:
                return
            if not data:
                return
            frame = orjson.loads(data)
            waiter = self.waiting.pop(frame.get("reply_to", -1), None)
            if waiter is not None:
                waiter.set(frame)
            elif frame.get("type") == "message" and MARK in str(frame.get("text", "")):
                sent = float(str(frame["text"]).split(MARK, 1)[1].split()[0])
                self.user.environment.events.request.fire(
                    request_type="WS",
                    name="WS event message",
                    response_time=(time.time() - sent) * 1000,
                    response_length=len(data),
                    exception=None,
                    context={},
                )

    def query(self, method: str, args: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        rid = next(self.ids)
        waiter = AsyncResult()
        self.waiting[rid] = waiter
        start = time.perf_counter()
        error: Exception | None = None
        reply: dict[str, Any] = {}
        try:
            self.ws.send(orjson.dumps({"id": rid, "type": "query", "method": method, "args": args}).decode())
            reply = waiter.get(timeout=30)
            if not reply.get("ok"):
                error = RuntimeError(str(reply.get("error")))
        except Exception as exc:
            error = exc
            self.waiting.pop(rid, None)
        self.user.environment.events.request.fire(
            request_type="WS",
            name=name or f"WS {method}",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=len(orjson.dumps(reply)),
            exception=error,
            context={},
        )
        return reply

    def close(self) -> None:
        self.ws.close()
        self.reader.kill(block=False)


class FlannelUser(User):  # type: ignore[misc]
    """What both clients share: a token of their own, HTTP sessions, an event socket."""

    abstract = True
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.cfg = config(self)
        runner = self.environment.runner
        index = next(_counter) + 1000 * (getattr(runner, "worker_index", 0) or 0)
        self.token = self.cfg.tokens[index % len(self.cfg.tokens)]
        self.edge_url = self.cfg.edge_urls[index % len(self.cfg.edge_urls)]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.rng = random.Random(index)
        self.socket: RtmSocket | None = None

    def http(self, base: str) -> HttpSession:
        return HttpSession(base_url=base, request_event=self.environment.events.request, user=self)

    def connect_socket(self, name: str) -> None:
        """rtm.connect (router or edge), then the WebSocket and its hello, as one request."""
        base = self.cfg.router_url or self.edge_url
        start = time.perf_counter()
        error: Exception | None = None
        size = 0
        try:
            answer = self.http(base).post("/api/rtm.connect", headers=self.auth, name="rtm.connect").json()
            if not answer.get("ok"):
                raise RuntimeError(str(answer.get("error")))
            self.socket = RtmSocket(self, answer["url"])
            size = len(orjson.dumps(self.socket.hello))
        except Exception as exc:
            error = exc
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=size,
            exception=error,
            context={},
        )

    def some_users(self, k: int = 10) -> list[str]:
        ids = self.cfg.user_ids
        return self.rng.sample(ids, min(k, len(ids)))

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()


class ThinClientUser(FlannelUser):
    def on_start(self) -> None:
        super().on_start()
        self.connect_socket("thin boot: rtm.connect + hello")

    @task(4)
    def users_info_batch(self) -> None:
        if self.socket:
            self.socket.query("users.info", {"users": ",".join(self.some_users())}, "WS users.info batch")

    @task(4)
    def users_search(self) -> None:
        if self.socket:
            self.socket.query("users.search", {"query": self.rng.choice("abcdefghijklmnoprst") + "a"})

    @task(1)
    def history(self) -> None:
        if self.socket:
            self.socket.query("conversations.history", {"channel": self.cfg.channel, "limit": 20})

    @task(1)
    def post(self) -> None:
        if self.socket:
            text = f"thin says hi {MARK}{time.time():.6f}"
            self.socket.query("chat.postMessage", {"channel": self.cfg.channel, "text": text})


class FatClientUser(FlannelUser):
    def on_start(self) -> None:
        super().on_start()
        self.origin = self.http(self.cfg.origin_url)
        with self.origin.post(
            "/api/rtm.start", headers=self.auth, name="fat boot: rtm.start", catch_response=True
        ) as answer:
            body = answer.json() if answer.status_code == 200 else {}
            if not body.get("ok"):
                answer.failure(f"rtm.start: {answer.status_code} {body.get('error', '')!s}")
            self.directory = body.get("users", [])
        self.connect_socket("fat events: rtm.connect + hello")

    def call(self, method: str, params: dict[str, Any], name: str) -> None:
        with self.origin.get(
            f"/api/{method}", params=params, headers=self.auth, name=name, catch_response=True
        ) as answer:
            if answer.status_code != 200 or not answer.json().get("ok"):
                answer.failure(f"{method}: {answer.status_code} {answer.text[:200]}")

    @task(4)
    def users_info_batch(self) -> None:
        for uid in self.some_users():  # the origin has no batch form
            self.call("users.info", {"user": uid}, "users.info (per id)")

    @task(4)
    def users_search(self) -> None:
        emails = [
            u["profile"].get("email") for u in self.directory[:200] if u.get("profile", {}).get("email")
        ]
        if emails:
            self.call("users.lookupByEmail", {"email": self.rng.choice(emails)}, "users.lookupByEmail")

    @task(1)
    def history(self) -> None:
        self.call(
            "conversations.history", {"channel": self.cfg.channel, "limit": 20}, "conversations.history"
        )

    @task(1)
    def post(self) -> None:
        with self.origin.post(
            "/api/chat.postMessage",
            headers=self.auth,
            name="chat.postMessage",
            data={"channel": self.cfg.channel, "text": f"fat says hi {MARK}{time.time():.6f}"},
            catch_response=True,
        ) as answer:
            if answer.status_code != 200 or not answer.json().get("ok"):
                answer.failure(f"chat.postMessage: {answer.status_code} {answer.text[:200]}")
