"""Schema version 5 on a database that already holds messages: replies get their parent's
author, the rebuilt full-text index still finds the old messages, and new ones are searched by
their blocks' text too. On SQLite and on MariaDB."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from origin.models import MESSAGE_COLUMNS
from origin.search import FTS5_TOKENIZE
from origin.service import history, messages, search
from origin.service.content import Content
from origin.store import migrations
from origin.store.shards import Store
from tests.factories import make_team
from wire.ids import parse_ts, ts_str


def test_the_rebuilt_sqlite_index_keeps_the_tokenizer() -> None:
    """Changing FTS5_TOKENIZE needs a new migration that rebuilds the index."""
    _, _, sql = next(m for m in migrations.MIGRATIONS if m[0] == 5)
    created = [s for s in migrations.statements("sqlite", sql) if "CREATE VIRTUAL TABLE messages_fts" in s]
    assert len(created) == 1 and f"tokenize='{FTS5_TOKENIZE}'" in created[0]


async def test_version_5_on_messages_already_there(
    database_urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_urls[0].startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = database_urls[0].rsplit("/", 1)[0] + f"/flannel_test_{secrets.token_hex(4)}_mig5"
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] <= 4])
        old = await Store.open([url])
        t = await make_team(old)
        parent, _ = await messages.post(old, t.alice.caller, t.general, "heritage wildebeest thread")
        root = parse_ts(parent["ts"])
        reply = {"ts": ts_str(root + 1)}
        async with old.write(t.id) as tx:  # a reply as version 4 stored it (today's code reads v5)
            row = (
                t.general,
                root + 1,
                t.id,
                t.bob.id,
                "an old reply about gnus",
                None,
                root,
                0,
                None,
                None,
                None,
                None,
            )
            await tx.conn.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 12)})", row
            )
            await tx.conn.execute(
                "UPDATE messages SET thread_ts = ts, reply_count = 1, reply_users = ?, latest_reply = ? "
                "WHERE channel_id = ? AND ts = ?",
                [f'["{t.bob.id}"]', root + 1, t.general, root],
            )
        await old.close()
    store = await Store.open([url])
    try:
        thread, _, _ = await history.replies(
            store, t.carol.caller, t.general, parse_ts(parent["ts"]), 0, None, True, 10, None
        )
        assert [m.get("parent_user_id") for m in thread] == [None, t.alice.id]
        for word, ts in (("wildebeest", parent["ts"]), ("gnus", reply["ts"])):
            found = await search.search_messages(store, t.carol.caller, word)
            assert [m["ts"] for m in found.matches] == [ts], word
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a brand new wildebeest"}}]
        new, _ = await messages.post(store, t.alice.caller, t.general, "", content=Content(blocks=blocks))
        found = await search.search_messages(store, t.carol.caller, "wildebeest")
        assert {m["ts"] for m in found.matches} == {parent["ts"], new["ts"]}
        assert (await search.search_messages(store, t.carol.caller, '"brand new wildebeest"')).total == 1
    finally:
        await store.close()
        if url.startswith("mysql"):
            from origin.store.mysql import drop_database
            from origin.store.urls import mysql_params

            await drop_database(mysql_params(url))
