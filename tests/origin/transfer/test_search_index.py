"""The MariaDB FULLTEXT index exists only where the database search engine answers
(migration 12): an import on the default (tantivy) writes no full-text index, and the database
engine adds it back before it answers, over the rows already there, so ``search.messages``
on it finds what was imported without it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loadtest.phases.transfer import generate
from origin.service import search, teams
from origin.service.auth import authenticate, issue_token
from origin.store.migrations import ensure_search_index, has_search_index
from origin.store.mysql import drop_database
from origin.store.shards import Store
from origin.store.urls import mysql_params
from origin.transfer.importer import import_export


@pytest.fixture
async def fresh_url(database_urls: list[str], tmp_path: Path) -> AsyncIterator[str]:
    """A database of this test's own: the session's shards may have the index already."""
    if database_urls[0].startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    url = database_urls[0].rsplit("/", 1)[0] + f"/flannel_test_{secrets.token_hex(4)}_ftx"
    try:
        yield url
    finally:
        await drop_database(mysql_params(url))


async def test_imported_without_the_index_then_found_by_the_database_engine(
    fresh_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "export.zip"
    generate(source, 300, users=5, channels=3, per_day=50)
    store = await Store.open([fresh_url])
    try:
        db = store.shards[0]
        mysql = db.dialect == "mysql"
        assert await has_search_index(db) is (not mysql)  # SQLite keeps its FTS5 tables
        team_id = (await teams.create_workspace(store, "Imported"))["id"]
        _, report = await import_export(store, source, team_id)
        assert report.imported["message"] == 300
        assert await has_search_index(db) is (not mysql)  # the import wrote none

        assert await ensure_search_index(db) is mysql  # added now, over the rows there
        assert await has_search_index(db)
        assert await ensure_search_index(db) is False  # once per database
        caller = await authenticate(store, await issue_token(store, team_id, "U00000001"))
        found = await search.search_messages(store, caller, '"message 7 in 2"')
        assert [m["text"] for m in found.matches] == ["message 7 in 2"]
        everything = await search.search_messages(store, caller, "message", count=100)
        assert everything.total == 300
    finally:
        await store.close()

    again = await Store.open([fresh_url])  # another process: it finds the index there
    try:
        assert await ensure_search_index(again.shards[0]) is False
    finally:
        await again.close()


async def test_the_service_adds_the_index_before_its_first_database_search(
    fresh_url: str, tmp_path: Path
) -> None:
    """No engine registered (an embedding, a test, the benchmark's side-by-side run): the
    service's database plans make sure of the index themselves."""
    source = tmp_path / "export.zip"
    generate(source, 40, users=3, channels=1, per_day=40)
    store = await Store.open([fresh_url])
    try:
        team_id = (await teams.create_workspace(store, "Imported"))["id"]
        await import_export(store, source, team_id)
        caller = await authenticate(store, await issue_token(store, team_id, "U00000000"))
        found = await search.search_messages(store, caller, "message", count=100)
        assert found.total == 40
        assert await has_search_index(store.shards[0])
    finally:
        await store.close()
