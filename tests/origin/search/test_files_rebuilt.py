"""Files uploaded through the real files service are found by ``search.files`` after the index
is rebuilt from the database (``flannel admin reindex``, or an unseen workspace at start),
and by the database engine (``files`` and ``file_shares``), with the same answers: the same
access control as messages, the same modifiers; a deleted file is not found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from changelog import MemoryLog
from origin.search.generations import build, current, outbox_offset
from origin.search.indexer import Indexer
from origin.service import search
from origin.store.shards import Store
from tests.origin.conftest import InProcess, in_process
from tests.origin.files.conftest import files_settings
from tests.origin.files.test_v2_flow import ok, upload


@pytest.fixture
async def app(store: Store, tmp_path: Path) -> AsyncIterator[InProcess]:
    async for running in in_process(store, files=files_settings(tmp_path / "blobs")):
        yield running


@pytest.fixture
async def db_app(store: Store, tmp_path: Path) -> AsyncIterator[InProcess]:
    """The origin on the database engine (``--search-engine database``)."""
    files = files_settings(tmp_path / "blobs")
    async for running in in_process(store, files=files, search_engine="database"):
        yield running


async def shared(app: InProcess) -> dict[str, str]:
    """Three files: one in #general, one in the private channel (carol is not in it), one
    shared then deleted."""
    team = app.team
    ids = {}
    for name, channel in (
        ("caracal-notes.txt", team.general),
        ("caracal-secret.txt", team.private),
        ("caracal-doomed.txt", team.general),
    ):
        done = await upload(app, team.alice.token, name, b"x" * 50, channel_id=channel)
        ids[name] = done["files"][0]["id"]
    await ok(await app.call("files.delete", team.alice.token, data={"file": ids["caracal-doomed.txt"]}))
    return ids


async def names(app: InProcess, token: str, query: str) -> list[str]:
    got = await ok(await app.call("search.files", token, data={"query": query}))
    files: dict[str, Any] = got["files"]
    assert files["total"] == len(files["matches"])
    return sorted(str(m["name"]) for m in files["matches"])


async def _answers(app: InProcess, indexer: Indexer | None) -> None:
    """What either engine answers (`indexer` None: the database engine)."""
    team = app.team
    if indexer is not None:
        wanted = await outbox_offset(await app.store.shard_of(team.id), team.id)
        assert await indexer.wait_for(team.id, wanted, 20.0)
    both = ["caracal-notes.txt", "caracal-secret.txt"]
    assert await names(app, team.alice.token, "caracal") == both
    assert await names(app, team.carol.token, "caracal") == ["caracal-notes.txt"]
    assert await names(app, team.carol.token, "notes in:#general") == ["caracal-notes.txt"]
    assert await names(app, team.carol.token, "doomed") == []
    assert await names(app, team.alice.token, "caracal -secret") == ["caracal-notes.txt"]
    assert await names(app, team.alice.token, '"caracal secret"') == ["caracal-secret.txt"]
    assert await names(app, team.alice.token, "from:@alice") == both  # the sharing message's author
    assert await names(app, team.alice.token, "caracal from:@bob") == []
    assert await names(app, team.alice.token, "caracal on:today") == both
    assert await names(app, team.alice.token, "caracal before:yesterday") == []
    assert await names(app, team.alice.token, "caracal has:link") == []  # no file has message flags
    got = await ok(await app.call("search.files", team.alice.token, data={"query": "caracal", "count": 1}))
    page = got["files"]
    assert page["total"] == 2 and len(page["matches"]) == 1
    match = page["matches"][0]
    assert match["id"] and match["title"] and match["filetype"] == "text" and match["user"] == team.alice.id
    assert match["channels"] in ([team.general], [team.private]) and match["ts"]
    # the messages that shared them are found by has:file (the deleted file's too, as a
    # file_share message with a tombstone: as the database engine finds it)
    found = await search.search_messages(app.store, team.carol.caller, "has:file")
    assert found.total == 2 and {m["channel"]["id"] for m in found.matches} == {team.general}
    found = await search.search_messages(app.store, team.alice.caller, "has:file")
    assert found.total == 3


async def test_admin_reindex_indexes_the_shared_files(app: InProcess, tmp_path: Path) -> None:
    await shared(app)
    root = tmp_path / "search"
    path, n = await build(app.store, root)  # what `flannel admin reindex` runs
    assert current(root) == path and n >= 3
    indexer = Indexer(app.store, MemoryLog(), root)
    await indexer.start()
    try:
        await _answers(app, indexer)
    finally:
        await indexer.stop()


async def test_the_database_engine_finds_the_same_files(db_app: InProcess) -> None:
    await shared(db_app)
    await _answers(db_app, None)  # no index: files and file_shares


async def test_an_unseen_workspace_is_rebuilt_with_its_files(app: InProcess, tmp_path: Path) -> None:
    await shared(app)
    indexer = Indexer(app.store, MemoryLog(), tmp_path / "search")  # a new, empty index
    await indexer.start()
    try:
        await _answers(app, indexer)
    finally:
        await indexer.stop()
