"""Getting events to the application: ``events()`` iterators and ``@on`` handlers.

Events are buffered until the application listens, so nothing that arrives between
``connect()`` returning and the first ``async for`` is lost. From then on each listener (the
handlers together, and each ``events()`` iterator) gets every event, in order, from the
moment it started listening. Handlers run one at a time in event order; one that raises is
logged and the next event still comes. Buffers are unbounded: an application that stops
reading holds its backlog in memory rather than losing messages. Only the buffer kept while
*nobody* listens is bounded (``max_backlog``, oldest dropped with a warning): an application
that only posts and looks things up must not accumulate the workspace's events forever.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from client_sdk.errors import FlannelError
from client_sdk.events import EVENT_TYPES, Event

logger = logging.getLogger("client_sdk")
Handler = Callable[[Event], Awaitable[None] | None]
H = TypeVar("H", bound=Callable[..., object])
_END = object()


class Subscription(AsyncIterator[Event]):
    """One ``events()`` iterator; ends when the client closes, raises when the session failed."""

    def __init__(self, backlog: list[Event]) -> None:
        self._queue: deque[Event | object] = deque(backlog)
        self._wake = asyncio.Event()
        self._error: FlannelError | None = None
        if backlog:
            self._wake.set()

    def put(self, item: Event | object) -> None:
        self._queue.append(item)
        self._wake.set()

    def end(self, error: FlannelError | None) -> None:
        self._error = error
        self.put(_END)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            self._wake.clear()
            await self._wake.wait()
        item = self._queue.popleft()
        if item is _END:
            self._queue.appendleft(_END)  # stay ended
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        assert isinstance(item, Event)
        return item


class EventBus:
    """Fans events out to subscriptions and handlers, holding them until someone listens."""

    def __init__(self, max_backlog: int = 10_000) -> None:
        self.max_backlog = max_backlog
        self.dropped = 0
        self._handlers: dict[str, list[Handler]] = {}
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._backlog: deque[Event] = deque()
        self._handler_queue: Subscription | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ended: tuple[FlannelError | None] | None = None

    def on(self, kind: str) -> Callable[[H], H]:
        """Decorator: call the function for every event of ``kind`` (``"*"``: all events)."""
        if kind != "*" and kind not in EVENT_TYPES:
            raise ValueError(f"unknown event type {kind!r}; one of {sorted(EVENT_TYPES)} or '*'")

        def register(func: H) -> H:
            self._handlers.setdefault(kind, []).append(func)  # type: ignore[arg-type]
            if self._handler_queue is None:
                self._handler_queue = self._new_listener()
            self._start_runner()
            return func

        return register

    def subscribe(self) -> Subscription:
        sub = self._new_listener()
        self._subs.add(sub)
        return sub

    def publish(self, event: Event) -> None:
        if self._ended is not None:
            return
        listeners = [*self._subs, *([self._handler_queue] if self._handler_queue else [])]
        if not listeners:
            self._backlog.append(event)
            if len(self._backlog) > self.max_backlog:
                self._backlog.popleft()
                if not self.dropped:
                    logger.warning(
                        "no one reads events: dropping the oldest (max_backlog=%d)", self.max_backlog
                    )
                self.dropped += 1
        for listener in listeners:
            listener.put(event)

    def end(self, error: FlannelError | None = None) -> None:
        """No more events: listeners finish (raising ``error`` if given) once they drain."""
        if self._ended is not None:
            return
        self._ended = (error,)
        for sub in self._subs:
            sub.end(error)
        if self._handler_queue is not None:
            self._handler_queue.end(None)

    def start(self) -> None:
        """Run handlers registered before there was an event loop."""
        self._start_runner()

    async def drain_handlers(self) -> None:
        """Wait until the handlers have seen every event published before the end."""
        if self._runner is not None and self._runner is not asyncio.current_task():
            await asyncio.shield(self._runner)

    async def aclose(self, grace: float = 5.0) -> None:
        """End, let the handlers finish the events already received, then stop them."""
        self.end()
        runner = self._runner
        if runner is None or runner is asyncio.current_task():
            return  # closing from inside a handler: the runner ends once it returns
        try:
            await asyncio.wait_for(asyncio.shield(runner), grace)
        except (TimeoutError, asyncio.CancelledError):
            runner.cancel()

    def _new_listener(self) -> Subscription:
        backlog, self._backlog = list(self._backlog), deque()
        sub = Subscription(backlog)
        if self._ended is not None:
            sub.end(self._ended[0])
        return sub

    def _start_runner(self) -> None:
        if self._runner is not None or self._handler_queue is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # decorating at import time: start() runs them once connected
        self._runner = loop.create_task(self._run(self._handler_queue), name="flannel-handlers")

    async def _run(self, queue: Subscription) -> None:
        async for event in queue:
            for handler in [*self._handlers.get(event.type, ()), *self._handlers.get("*", ())]:
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception("an event handler for %r raised", event.type)
