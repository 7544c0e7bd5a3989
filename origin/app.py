"""The origin's ASGI application: Web API, health, and (with the change log) the relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from origin.api.http import ApiEndpoint, json_response
from origin.api.ratelimit import RateLimiter
from origin.api.registry import load_methods
from origin.settings import OriginSettings
from origin.store.shards import Store


def create_app(settings: OriginSettings, store: Store | None = None) -> Starlette:
    """Build the app; the store is opened in the lifespan unless one is given."""
    state: dict[str, Store] = {}
    endpoint_holder: list[ApiEndpoint] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = store is None
        opened = store or await Store.open(settings.database_urls, settings.pool_size)
        state["store"] = opened
        endpoint_holder.append(
            ApiEndpoint(opened, load_methods(), RateLimiter(settings.rate_limits), settings.base_url)
        )
        try:
            yield
        finally:
            if own:
                await opened.close()

    async def api(request: Request) -> Response:
        return await endpoint_holder[0](request)

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    async def readyz(request: Request) -> Response:
        try:
            for db in state["store"].shards:
                async with db.read() as conn:
                    await conn.fetchone("SELECT 1")
        except Exception as exc:
            return json_response({"ok": False, "error": "not_ready", "detail": str(exc)}, 503)
        return json_response({"ok": True})

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
