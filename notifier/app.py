"""The notifier's small HTTP face: ``/healthz`` (it is up and following) and
``/internal/stats`` (offsets, what it owes, what it delivered; for services, with the shared
secret), so ``flannel notifier`` is watched like every other service."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from notifier.service import Notifier
from wire.http import SERVICE_HEADER


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def create_app(
    notifier: Notifier, secret: str, closers: Sequence[Callable[[], Awaitable[None]]] = ()
) -> Starlette:
    """An app whose lifespan starts ``notifier`` and, at the end, closes it, then ``closers``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await notifier.start()
        try:
            yield
        finally:
            await notifier.close()
            for close in closers:
                await close()

    async def healthz(request: Request) -> Response:
        return _json({"ok": True, "workspaces": len(notifier.done)})

    async def stats(request: Request) -> Response:
        given = request.headers.get(SERVICE_HEADER)
        if not given:
            return _json({"ok": False, "error": "not_authed", "detail": "service secret required"}, 401)
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return _json({"ok": False, "error": "invalid_auth", "detail": "wrong service secret"}, 401)
        return _json({"ok": True, **notifier.stats()})

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/internal/stats", stats)],
        lifespan=lifespan,
    )
