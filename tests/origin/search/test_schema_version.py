"""An index built with another schema (an older flannel: no stored fields) cannot be opened
with this one: an indexer starting on it starts a new generation and rebuilds from the
database, and the old one is removed."""

from __future__ import annotations

from pathlib import Path

import tantivy

from changelog import MemoryLog
from origin.search.generations import current, outbox_offset, schema_version
from origin.search.indexer import Indexer
from origin.search.tantivy_index import SCHEMA_VERSION
from origin.service import messages, search
from origin.store.shards import Store
from tests.factories import make_team


def _old_generation(root: Path) -> Path:
    path = root / "gen-1"
    b = tantivy.SchemaBuilder()
    b.add_text_field("key", stored=True, tokenizer_name="raw")
    (path / "shard-0").mkdir(parents=True)
    index = tantivy.Index(b.build(), path=str(path / "shard-0"), reuse=False)
    writer = index.writer(15_000_000, 1)
    writer.commit()
    writer.wait_merging_threads()
    (root / "CURRENT").write_text(path.name)  # no version file: schema 1
    return path


async def test_an_index_of_another_schema_is_rebuilt(store: Store, tmp_path: Path) -> None:
    team = await make_team(store)
    await messages.post(store, team.alice.caller, team.general, "the numbat digs")
    root = tmp_path / "search"
    old = _old_generation(root)
    assert schema_version(old) == 1 and SCHEMA_VERSION > 1
    indexer = Indexer(store, MemoryLog(), root, poll_s=0.05)
    await indexer.start()
    try:
        path = current(root)
        assert path is not None and path != old and not old.exists()
        assert schema_version(path) == SCHEMA_VERSION
        wanted = await outbox_offset(await store.shard_of(team.id), team.id)
        assert await indexer.wait_for(team.id, wanted, 10.0)
        found = await search.search_messages(store, team.bob.caller, "numbat")
        assert [m["text"] for m in found.matches] == ["the numbat digs"]
    finally:
        await indexer.stop()
