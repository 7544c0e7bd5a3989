"""The browser tests' world: the real stack as processes (origin on MariaDB, two edges in two
regions sharing Redis, the router serving the page), a small workspace whose people have
passwords, and Debian's Chromium driven by Playwright (never a downloaded browser).

Screenshots of the main views go to ``build/browser-screenshots/`` (or
``$FLANNEL_SCREENSHOTS``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from loadtest.stack import Stack, StackConfig
from loadtest.workspace import delete_prefix
from origin.service import conversations, messages, signin
from origin.store.shards import Store
from tests.conftest import REQUIRE, ROOT
from tests.factories import Team, make_team

CHROMIUM = Path(os.environ.get("FLANNEL_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("FLANNEL_SCREENSHOTS", ROOT / "build" / "browser-screenshots"))
PASSWORD = "correct horse battery"
T = TypeVar("T")


@dataclass
class World:
    stack: Stack
    team: Team
    random: str  # a second public channel
    design: str  # a third, for the quick switcher
    router_url: str
    shots: Path
    database_urls: list[str]

    def link(self, user_id: str) -> str:
        """A fresh one-time sign-in link for ``user_id``."""

        async def make() -> str:
            store = await Store.open(self.database_urls)
            try:
                return await signin.create_link(store, self.team.id, user_id)
            finally:
                await store.close()

        return f"{self.router_url}/#signin={off_loop(make())}"


def off_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end on a loop of its own thread: Playwright's sync API keeps a loop
    running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _seed(urls: list[str]) -> tuple[Team, str, str]:
    store = await Store.open(urls)
    try:
        team = await make_team(store)
        for member in team.users:
            await signin.set_password(store, team.id, member.id, PASSWORD)
        alice, carol = team.alice.caller, team.carol.caller
        random = (await conversations.create(store, carol, "random", False))["id"]
        design = (await conversations.create(store, carol, "design-reviews", False))["id"]
        for member in (team.alice, team.bob):
            await conversations.join(store, member.caller, random)
        await conversations.join(store, alice, design)
        for i in range(45):  # more than one page of history
            await messages.post(store, carol, team.general, f"history line {i}")
        await messages.post(store, carol, team.general, f"<@{team.alice.id}> welcome aboard")
        await messages.post(store, carol, random, "anyone for lunch?")
        return team, random, design
    finally:
        await store.close()


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if REQUIRE:
            pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (scripts/bootstrap installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def world(mysql_shard_urls: list[str], redis_url: str) -> Iterator[World]:
    prefix = f"flanneltest:{secrets.token_hex(4)}:"
    team, random, design = off_loop(_seed(mysql_shard_urls))
    stack = Stack(
        StackConfig(embedded=False, database_urls=mysql_shard_urls, redis_url=redis_url, prefix=prefix)
    )
    try:
        stack.start()
        assert stack.router_url is not None
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield World(stack, team, random, design, stack.router_url, SHOTS, mysql_shard_urls)
    finally:
        stack.stop()
        off_loop(delete_prefix(redis_url, prefix))


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses its sandbox as root
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(chromium), headless=True, args=args)
        try:
            yield launched
        finally:
            launched.close()
