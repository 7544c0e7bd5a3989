"""Fixtures for the origin: a real origin process with a workspace in its database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
