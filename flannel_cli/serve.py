"""Running ASGI apps with uvicorn, one or several in one process, with a graceful stop.

On SIGTERM (or Ctrl-C) the ``before_exit`` hooks run first, while connections are still
open (an edge spreads its ``goodbye`` frames over its drain window), then the servers stop
accepting, finish in-flight requests, run their lifespan shutdown (closing pools) and the
process exits 0. A second signal forces the exit.

Every server runs on uvloop when it imports (``uvicorn[standard]`` brings it), else on the
plain asyncio loop: :func:`run` is how the CLI starts a service's event loop, since
:func:`serve_all` runs the servers inside a loop of ours (uvicorn's own ``loop`` setting is
only read by ``uvicorn.Server.run``, so :func:`config` sets it to the same choice).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import Any, TypeVar

import uvicorn
import uvicorn.config

from flannel_cli.logs import AccessLog

Hook = Callable[[], Awaitable[None]]
T = TypeVar("T")


def loop_name() -> str:
    """``"uvloop"`` when it imports, else ``"asyncio"``."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of :func:`loop_name`'s kind."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop every server runs on (uvloop when available)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


def http_protocol() -> Any:
    """uvicorn's httptools protocol sending a response as one write
    (:mod:`flannel_cli.http_protocol`), else uvicorn's own choice."""
    try:
        from flannel_cli.http_protocol import QuickHttp
    except ImportError:  # no httptools
        return "auto"
    return QuickHttp


def config(
    app: Any, host: str, port: int, log_level: str = "info", service: str | None = None
) -> uvicorn.Config:
    """uvicorn settings; with ``service``, the app is wrapped in the structured access log and
    uvicorn leaves logging to :mod:`flannel_cli.logs`."""
    if service is not None:
        app = AccessLog(app, service)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        loop=loop_name(),
        http=http_protocol(),
        ws_max_size=1 << 20,
        log_config=None if service else uvicorn.config.LOGGING_CONFIG,
        access_log=service is None,
    )


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve_all` (one handler for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_all(configs: Sequence[uvicorn.Config], before_exit: Sequence[Hook] = ()) -> None:
    servers = [_Server(c) for c in configs]
    loop = asyncio.get_running_loop()
    stopping = False
    tasks: list[asyncio.Task[None]] = []

    async def shutdown() -> None:
        await asyncio.gather(*(hook() for hook in before_exit), return_exceptions=True)
        for server in servers:
            server.should_exit = True

    def on_signal() -> None:
        nonlocal stopping
        if stopping:
            for server in servers:
                server.force_exit = True
            return
        stopping = True
        tasks.append(loop.create_task(shutdown()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
