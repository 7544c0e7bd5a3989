"""Every server runs on uvloop when it imports (flannel_cli.serve)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from flannel_cli import serve


def test_servers_are_configured_for_uvloop_and_run_on_it() -> None:
    assert serve.loop_name() == "uvloop"
    assert serve.config(object(), "127.0.0.1", 1, service="edge").loop == "uvloop"

    async def which() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert issubclass(serve.run(which()), uvloop.Loop)


def test_without_uvloop_the_plain_loop_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_uvloop(name: str, *args: object, **kwargs: object) -> object:
        if name == "uvloop":
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert serve.loop_name() == "asyncio"
    loop = serve.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
