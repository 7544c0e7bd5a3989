"""Running ASGI apps with uvicorn, one or several in one process."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


def config(app: Any, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", ws_max_size=1 << 20)


async def serve_all(configs: list[uvicorn.Config]) -> None:
    """Serve several apps in one event loop (the embedded ``flannel up``)."""
    servers = [uvicorn.Server(c) for c in configs]
    await asyncio.gather(*(s.serve() for s in servers))
