"""The origin's ASGI application: Web API, snapshots, health, and the relay that feeds the
change log."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from changelog import ChangeLog, MemoryLog, RedisLog, TailableLog
from origin.api.http import ApiEndpoint, error_response, json_response
from origin.api.ratelimit import RateLimiter
from origin.api.registry import load_methods
from origin.api.signin import SignInEndpoint
from origin.files.app import FilesApp, is_streamed_upload
from origin.internal import ManualAwayEndpoint, SnapshotEndpoint, TokenCheckEndpoint, check_service
from origin.metrics import OriginMetrics
from origin.relay import Fault, Relay, no_fault
from origin.search.indexer import Indexer
from origin.service.signin import SignIn
from origin.settings import OriginSettings
from origin.store.migrations import ensure_search_index
from origin.store.shards import Store
from origin.transfer.jobs import Transfers, open_runner
from wire.errors import SlackError
from wire.presence import MANUAL_AWAY_PATH
from wire.tokencheck import TOKEN_CHECK_PATH

log = logging.getLogger("flannel.origin")


def open_changelog(settings: OriginSettings) -> ChangeLog:
    """Redis Streams when a Redis URL is configured, else the in-process log."""
    if settings.redis_url:
        return RedisLog(
            settings.redis_url, settings.redis_prefix, settings.log_max_events, settings.log_max_age_s
        )
    return MemoryLog(settings.log_max_events, settings.log_max_age_s)


def fault_hook(point_wanted: str | None) -> Fault:
    """Kill the process at a named relay point: how tests crash between commit and publish."""
    if not point_wanted:
        return no_fault

    def fault(point: str) -> None:
        if point == point_wanted:
            os._exit(75)

    return fault


async def start_search(settings: OriginSettings, store: Store, log: ChangeLog) -> Indexer | None:
    """The embedded search indexer, unless search runs on the database."""
    if settings.search_engine != "tantivy":
        for db in store.shards:  # the database engine reads the shard's full-text index
            await ensure_search_index(db)
        return None
    indexer = Indexer(store, cast(TailableLog, log), settings.search_dir or None)
    await indexer.start()
    return indexer


@dataclass
class Origin:
    """Everything the running origin holds, for the app and for in-process embedding."""

    settings: OriginSettings
    store: Store
    changelog: ChangeLog
    relay: Relay
    api: ApiEndpoint
    snapshots: SnapshotEndpoint
    signin: SignInEndpoint
    token_checks: TokenCheckEndpoint | None = None
    manual_away: ManualAwayEndpoint | None = None


def create_app(
    settings: OriginSettings, store: Store | None = None, changelog: ChangeLog | None = None
) -> Starlette:
    """Build the app; the store and change log are opened in the lifespan unless given."""
    holder: list[Origin] = []
    metrics = OriginMetrics()
    files_app = FilesApp()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = store or await Store.open(settings.database_urls, settings.pool_size)
        log = changelog or open_changelog(settings)
        relay = Relay(opened, log, fault=fault_hook(settings.relay_fault))
        runner = open_runner(opened, settings.redis_url, settings.redis_prefix)  # saq on Redis, if any
        await runner.start()
        transfers = Transfers(opened, runner, settings.import_dir, settings.export_dir)
        limiter = RateLimiter(settings.rate_limits)
        files = await files_app.open(settings.files, opened, limiter, settings.secret, settings.base_url)
        if files is not None:  # import/export jobs carry files' bytes (``__uploads/``)
            runner.files.blobs, runner.files.max_bytes = files.blobs, files.settings.max_bytes
            runner.files.quota_bytes, runner.files.public_url = files.settings.quota_bytes, files.public_url
        api = ApiEndpoint(
            opened,
            load_methods(),
            limiter,
            settings.base_url,
            settings.secret,
            metrics.observe,
            transfers,
            files=files,
        )
        origin = Origin(
            settings,
            opened,
            log,
            relay,
            api,
            SnapshotEndpoint(opened, settings.secret, metrics.snapshots.inc),
            SignInEndpoint(SignIn(opened), settings.secret),
            TokenCheckEndpoint(opened, settings.secret),
            ManualAwayEndpoint(opened, settings.secret),
        )
        holder.append(origin)
        app.state.origin = origin
        relay.start()
        indexer = await start_search(settings, opened, log)
        try:
            yield
        finally:
            if indexer is not None:
                await indexer.stop()
            await runner.close()
            await files_app.close()
            await relay.stop()
            if changelog is None:
                await log.close()
            if store is None:
                await opened.close()

    async def api(request: Request) -> Response:
        if is_streamed_upload(request, request.path_params["method"]):
            return await files_app.legacy_upload(request)
        return await holder[0].api(request)

    async def snapshot(request: Request) -> Response:
        return await holder[0].snapshots(request)

    async def signin(request: Request) -> Response:
        return await holder[0].signin(request)

    async def token_check(request: Request) -> Response:
        endpoint = holder[0].token_checks
        assert endpoint is not None
        return await endpoint(request)

    async def manual_away(request: Request) -> Response:
        endpoint = holder[0].manual_away
        assert endpoint is not None
        return await endpoint(request)

    async def stats(request: Request) -> Response:
        origin = holder[0]
        try:
            check_service(request, settings.secret)
        except SlackError as exc:
            return error_response(exc)
        return json_response(
            {
                "ok": True,
                "snapshots_served": origin.snapshots.served,
                "relay_published": origin.relay.published,
                "relay_backlog": await origin.relay.backlog(),
                "token_check_calls": origin.token_checks.calls if origin.token_checks else 0,
                "tokens_checked": origin.token_checks.tokens if origin.token_checks else 0,
            }
        )

    async def metrics_endpoint(request: Request) -> Response:
        origin = holder[0]
        metrics.published.set(origin.relay.published)
        try:
            metrics.backlog.set(await origin.relay.backlog())
        except Exception:  # a database that is down: the gauge keeps its last value
            log.warning("relay backlog unavailable for /metrics")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    async def readyz(request: Request) -> Response:
        try:
            for db in holder[0].store.shards:
                async with db.read() as conn:
                    await conn.fetchone("SELECT 1")
            await holder[0].changelog.last_offset("T0")
        except Exception as exc:  # any failure means not ready
            return json_response({"ok": False, "error": "not_ready", "detail": str(exc)}, 503)
        return json_response({"ok": True})

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["GET", "POST"]),
            *files_app.routes(),
            Route("/internal/snapshot/{team_id}", snapshot),
            Route("/internal/signin/{how}", signin, methods=["POST"]),
            Route(TOKEN_CHECK_PATH, token_check, methods=["POST"]),
            Route(MANUAL_AWAY_PATH, manual_away, methods=["POST"]),
            Route("/internal/stats", stats),
            Route("/metrics", metrics_endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
