"""Fixtures for the origin: a real origin process with a workspace in its database, or the
same app in-process (no process, no port: httpx's ASGI transport), for the fast tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from changelog import MemoryLog
from origin.app import create_app
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import Team, make_team


class Origin:
    def __init__(self, server: ServerProcess, store: Store, team: Team) -> None:
        self.server = server
        self.url = server.url
        self.api = server.url + "/api/"
        self.store = store
        self.team = team


async def start_origin(
    start_server: type[ServerProcess], database_urls: list[str], *extra: str
) -> tuple[ServerProcess, Store, Team]:
    store = await Store.open(database_urls)
    team = await make_team(store)
    args = ["origin", "--log-level", "warning", *extra]
    for url in database_urls:
        args += ["--database-url", url]
    server = start_server(args, free_port()).start()
    return server, store, team


@pytest.fixture
async def origin(start_server: type[ServerProcess], database_urls: list[str]) -> AsyncIterator[Origin]:
    """A real origin process (SQLite, or MariaDB with two shards) and a fresh workspace."""
    server, store, team = await start_origin(start_server, database_urls)
    try:
        yield Origin(server, store, team)
    finally:
        await store.close()


@dataclass
class InProcess:
    """The origin app in this process, over the test's store, with a fresh workspace."""

    http: httpx.AsyncClient
    store: Store
    team: Team
    settings: OriginSettings
    asgi: Starlette

    async def call(self, method: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """POST ``/api/<method>`` (``params``, ``data``, ``json``, ``content``... as httpx takes them)."""
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post(f"/api/{method}", headers=headers, **kwargs)


async def in_process(store: Store, **settings: Any) -> AsyncIterator[InProcess]:
    team = await make_team(store)
    config = OriginSettings(database_urls=[], **settings)
    app = create_app(config, store=store, changelog=MemoryLog())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://origin") as http:
            yield InProcess(http, store, team, config, app)


@pytest.fixture
async def app(store: Store) -> AsyncIterator[InProcess]:
    """The origin in-process on SQLite and on MariaDB (two shards)."""
    async for running in in_process(store):
        yield running
