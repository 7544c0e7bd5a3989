"""search.messages at the service level, on SQLite FTS5 and on MariaDB FULLTEXT (two shards).

The corpus has public and private channels, a DM, a group DM, a second workspace on the
same shard, edits, deletes, a thread, a reaction and a link; each marker word lives in one
place only, so a leak shows up as a hit.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from changelog import MemoryLog
from origin.models import MESSAGE_COLUMNS
from origin.relay import Relay
from origin.search import FTS5_TOKENIZE, HIGHLIGHT_END, HIGHLIGHT_START
from origin.search.generations import outbox_offset
from origin.search.indexer import Indexer
from origin.service import conversations, dms, messages, reactions, search
from origin.service.auth import Caller
from origin.store import migrations
from origin.store.shards import Store
from tests.factories import Team, make_team
from wire.errors import SlackError
from wire.ids import parse_ts

NAMES = ("alice", "bob", "carol", "dave")


@dataclass
class Corpus:
    team: Team
    other: Team
    dm: str
    mpim: str
    random: str
    today: date
    ts: dict[str, str]

    async def texts(self, store: Store, caller: Caller, q: str, **kw: object) -> list[str]:
        found = await search.search_messages(store, caller, q, today=self.today, count=100, **kw)  # type: ignore[arg-type]
        assert found.total == len(found.matches), (q, found)
        return sorted(m["text"] for m in found.matches)


async def same_shard_team(store: Store, team: Team) -> Team:
    """A second workspace on the first one's shard, so that only the query keeps them apart."""
    shard = await store.shard_of(team.id)
    for _ in range(6):
        other = await make_team(store)
        if await store.shard_of(other.id) is shard:
            return other
    raise AssertionError("no second workspace landed on the same shard")


@pytest.fixture(params=["database", "tantivy"])
async def engine(
    request: pytest.FixtureRequest, store: Store, tmp_path: Path
) -> AsyncIterator[Indexer | None]:
    """The tests on the database's full-text index and on the tantivy index, which is fed
    from the change log (the relay publishes the test's writes, the indexer applies them)."""
    if request.param == "database":
        yield None
        return
    log = MemoryLog()
    relay = Relay(store, log, poll_s=0.05)
    relay.start()
    indexer = Indexer(store, log, tmp_path / "search", poll_s=0.05)
    await indexer.start()
    try:
        yield indexer
    finally:
        await indexer.stop()
        await relay.stop()


async def settled(store: Store, engine: Indexer | None, *teams: str) -> None:
    """Wait until the index has applied every write so far (a search waits only for the
    searcher's own writes: read-your-writes, not read-everyone's)."""
    for team_id in teams if engine is not None else ():
        assert engine is not None
        wanted = await outbox_offset(await store.shard_of(team_id), team_id)
        assert await engine.wait_for(team_id, wanted, 10.0)


@pytest.fixture
async def corpus(store: Store, engine: Indexer | None) -> Corpus:
    t = await make_team(store, NAMES)
    alice, bob, carol = t.alice.caller, t.bob.caller, t.carol.caller
    dm, _ = await dms.open_dm(store, alice, [t.bob.id])
    mpim, _ = await dms.open_dm(store, alice, [t.bob.id, t.carol.id])
    random = await conversations.create(store, bob, "random", False)
    ts: dict[str, str] = {}

    async def say(who: Caller, channel: str, text: str, thread: str | None = None) -> str:
        msg, _ = await messages.post(store, who, channel, text, parse_ts(ts[thread]) if thread else None)
        ts[text.split()[0]] = msg["ts"]
        return str(msg["ts"])

    await say(alice, t.general, "deploy the build today")
    await say(bob, t.general, "failing: the build failed again https://ci.example.com/run/7")
    await say(carol, t.general, "lunch at the café, anyone?")
    await say(bob, t.general, "rollback of the deploy in this thread", thread="deploy")
    await say(alice, t.private, "platypus launch plans https://internal.example.com/launch")
    await say(bob, dm["id"], "wombat sighting, just between us")
    await say(carol, mpim["id"], "narwhal party for the three of us")
    await say(bob, random["id"], "we go now, and quickly")
    await say(alice, t.general, "kangaroo original wording")
    await messages.update(store, alice, t.general, parse_ts(ts["kangaroo"]), "wallaby edited wording")
    await say(bob, t.general, "axolotl that will vanish")
    await messages.delete(store, bob, t.general, parse_ts(ts["axolotl"]))
    await reactions.set_reaction(store, carol, t.general, parse_ts(ts["lunch"]), "thumbsup", True)
    other = await same_shard_team(store, t)
    await messages.post(store, other.alice.caller, other.general, "platypus wombat narwhal deploy elsewhere")
    await messages.post(store, other.alice.caller, other.private, "quokka secrets of the other workspace")
    today = datetime.fromtimestamp(parse_ts(ts["deploy"]) / 1e6, UTC).date()
    await settled(store, engine, t.id, other.id)
    return Corpus(t, other, dm["id"], mpim["id"], random["id"], today, ts)


async def test_finds_words_in_slack_shape(store: Store, corpus: Corpus) -> None:
    t = corpus.team
    found = await search.search_messages(
        store, t.carol.caller, "build", base_url="http://o", today=corpus.today
    )
    assert found.total == 2 and found.exact
    top = next(m for m in found.matches if m["text"].startswith("deploy"))
    assert top["type"] == "message" and top["team"] == t.id and top["user"] == t.alice.id
    assert top["username"] == "alice" and top["ts"] == corpus.ts["deploy"] and top["score"] > 0
    assert top["channel"]["id"] == t.general and top["channel"]["name"] == "general"
    assert top["channel"]["is_private"] is False and top["channel"]["is_im"] is False
    assert top["permalink"] == f"http://o/archives/{t.general}/p{corpus.ts['deploy'].replace('.', '')}"
    assert top["iid"]
    reply = (await search.search_messages(store, t.carol.caller, "rollback", base_url="http://o")).matches[0]
    assert reply["thread_ts"] == corpus.ts["deploy"] and "?thread_ts=" in reply["permalink"]


async def test_nothing_leaks_across_membership_or_workspace(store: Store, corpus: Corpus) -> None:
    t, c = corpus.team, corpus
    alice, bob, carol, dave = (u.caller for u in t.users)
    assert await c.texts(store, carol, "platypus") == []  # private channel, not a member
    assert await c.texts(store, carol, "wombat") == []  # DM of alice and bob
    assert await c.texts(store, dave, "narwhal") == []  # group DM without dave
    assert await c.texts(store, carol, "quokka") == []  # the other workspace
    assert await c.texts(store, carol, "has:link") == [
        "failing: the build failed again https://ci.example.com/run/7"
    ]
    assert await c.texts(store, carol, f"in:#secret-plans in:<#{t.private}> in:{c.dm}") == []
    assert await c.texts(store, carol, "in:@bob") == []  # carol has no DM with bob
    assert "wombat" not in str(await c.texts(store, carol, "from:@bob"))
    # The members see theirs, and only this workspace's copy of the words.
    assert await c.texts(store, bob, "platypus") == [
        "platypus launch plans https://internal.example.com/launch"
    ]
    assert await c.texts(store, alice, "wombat") == ["wombat sighting, just between us"]
    assert await c.texts(store, carol, "narwhal") == ["narwhal party for the three of us"]
    assert await c.texts(store, corpus.other.carol.caller, "platypus") == [
        "platypus wombat narwhal deploy elsewhere"
    ]
    channel = (await search.search_messages(store, alice, "wombat")).matches[0]["channel"]
    assert channel["is_im"] and channel["is_private"] and channel["name"] == t.bob.id


async def test_deleted_never_found_and_edits_by_new_words_only(store: Store, corpus: Corpus) -> None:
    carol = corpus.team.carol.caller
    assert await corpus.texts(store, carol, "axolotl") == []
    assert await corpus.texts(store, carol, "kangaroo") == []
    assert await corpus.texts(store, carol, "original") == []
    assert await corpus.texts(store, carol, "wallaby") == ["wallaby edited wording"]
    assert await corpus.texts(store, carol, '"edited wording"') == ["wallaby edited wording"]


async def test_each_modifier(store: Store, corpus: Corpus) -> None:
    t, c = corpus.team, corpus
    alice, bob, carol = t.alice.caller, t.bob.caller, t.carol.caller
    general = [
        "deploy the build today",
        "failing: the build failed again https://ci.example.com/run/7",
        "lunch at the café, anyone?",
        "rollback of the deploy in this thread",
        "wallaby edited wording",
    ]
    assert await c.texts(store, carol, "in:#general") == sorted(general)
    assert await c.texts(store, carol, f"in:<#{t.general}|general> build") == sorted(general[:2])
    assert await c.texts(store, carol, "in:#random in:#general deploy") == sorted([general[0], general[3]])
    assert await c.texts(store, alice, "in:@bob") == ["wombat sighting, just between us"]
    assert await c.texts(store, bob, f"in:<@{t.alice.id}>") == ["wombat sighting, just between us"]
    assert await c.texts(store, carol, "in:#nowhere") == []
    assert await c.texts(store, carol, "from:@bob build") == [general[1]]
    assert await c.texts(store, carol, f"from:<@{t.carol.id}>") == [
        general[2],
        "narwhal party for the three of us",
    ]
    assert await c.texts(store, carol, "from:me") == await c.texts(store, carol, "from:@carol")
    assert await c.texts(store, carol, "from:@nobody") == []
    assert await c.texts(store, carol, "has:reaction") == [general[2]]
    assert await c.texts(store, carol, "is:thread") == sorted([general[0], general[3]])
    assert await c.texts(store, carol, "is:thread -rollback") == [general[0]]
    day = c.today.isoformat()
    assert len(await c.texts(store, carol, f"on:{day}")) == 7  # general, random, group DM
    assert await c.texts(store, carol, "before:today") == []
    assert await c.texts(store, carol, f"after:{day}") == []
    assert len(await c.texts(store, carol, f"after:{(c.today - timedelta(days=1)).isoformat()} build")) == 2
    assert len(await c.texts(store, carol, f"during:{day[:7]} has:link")) == 1
    assert await c.texts(store, carol, "café") == await c.texts(store, carol, "CAFE") == [general[2]]


async def test_words_phrases_exclusions_and_unindexed_words(store: Store, corpus: Corpus) -> None:
    carol = corpus.team.carol.caller
    assert await corpus.texts(store, carol, "deploy -rollback") == ["deploy the build today"]
    assert await corpus.texts(store, carol, '"build failed"') == [
        "failing: the build failed again https://ci.example.com/run/7"
    ]
    assert await corpus.texts(store, carol, '"failed build"') == []
    assert await corpus.texts(store, carol, '"the build failed"') == [
        "failing: the build failed again https://ci.example.com/run/7"
    ]
    assert await corpus.texts(store, carol, 'build -"build today"') == [
        "failing: the build failed again https://ci.example.com/run/7"
    ]
    # "go" is too short and "the" a stopword for InnoDB: the candidates are checked instead.
    assert await corpus.texts(store, carol, "go") == ["we go now, and quickly"]
    assert await corpus.texts(store, carol, "the build") == [
        "deploy the build today",
        "failing: the build failed again https://ci.example.com/run/7",
    ]
    assert await corpus.texts(store, carol, "-deploy in:#random") == ["we go now, and quickly"]


async def test_highlight_marks_the_words(store: Store, corpus: Corpus) -> None:
    found = await search.search_messages(store, corpus.team.carol.caller, "build", highlight_words=True)
    assert all(f"{HIGHLIGHT_START}build{HIGHLIGHT_END}" in m["text"] for m in found.matches)
    plain = await search.search_messages(store, corpus.team.carol.caller, "build")
    assert all(HIGHLIGHT_START not in m["text"] for m in plain.matches)


async def test_paging_and_sorting(store: Store, engine: Indexer | None) -> None:
    t = await make_team(store)
    stamps = [
        (await messages.post(store, t.alice.caller, t.general, f"filler zebra {i}"))[0]["ts"]
        for i in range(25)
    ]
    await settled(store, engine, t.id)
    for q in ("zebra", "in:#general", "from:@alice zebra"):  # index, window scan, small scope
        seen: list[str] = []
        for offset in (0, 10, 20):
            page = await search.search_messages(
                store, t.bob.caller, q, count=10, offset=offset, sort="timestamp"
            )
            assert page.total == 25 and page.exact
            seen += [m["ts"] for m in page.matches]
        assert seen == stamps[::-1], q
        asc = await search.search_messages(store, t.bob.caller, q, count=25, sort="timestamp", sort_dir="asc")
        assert [m["ts"] for m in asc.matches] == stamps, q
        beyond = await search.search_messages(store, t.bob.caller, q, count=10, offset=30)
        assert beyond.matches == [] and beyond.total == 25
    by_score = await search.search_messages(store, t.bob.caller, "zebra", count=25)
    assert sorted(m["ts"] for m in by_score.matches) == stamps
    scores = [m["score"] for m in by_score.matches]
    assert scores == sorted(scores, reverse=True)


async def test_small_scope_reads_agree_with_the_index(
    store: Store, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    carol = corpus.team.carol.caller
    queries = [
        "in:#general build",
        "from:@bob the",
        "in:#general -rollback deploy",
        f"on:{corpus.today} café",
    ]
    via_index = [await corpus.texts(store, carol, q) for q in queries]
    monkeypatch.setattr(search, "SMALL_SCOPE", {"sqlite": 10**9, "mysql": 10**9})
    assert [await corpus.texts(store, carol, q) for q in queries] == via_index
    monkeypatch.setattr(search, "SMALL_SCOPE", {"sqlite": 0, "mysql": 0})
    assert [await corpus.texts(store, carol, q) for q in queries] == via_index


async def test_old_history_and_date_windows(store: Store, engine: Indexer | None) -> None:
    """Messages far older than the first window, and older than their channel's creation,
    are still found; dates cut them as the parser says."""
    t = await make_team(store)
    now = parse_ts((await messages.post(store, t.alice.caller, t.general, "recent yak"))[0]["ts"])
    years = [now - k * 365 * 86_400_000_000 for k in (1, 3, 30)]
    async with store.write(t.id) as tx:
        for k, ts in enumerate(years):
            row = (t.general, ts, t.id, t.bob.id, f"ancient yak {k}", None, None, 0, None, None, None, None)
            marks = ", ".join("?" * len(row))
            await tx.conn.execute(f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({marks})", list(row))
    if engine is not None:  # rows written behind the change log's back: only a rebuild sees them
        assert await engine.reindex() >= 4
    for q in ("in:#general", "yak", "in:#general yak"):
        found = await search.search_messages(store, t.carol.caller, q, sort="timestamp", sort_dir="asc")
        assert [parse_ts(m["ts"]) for m in found.matches] == [*years[::-1], now], q
        newest = await search.search_messages(store, t.carol.caller, q, count=2, sort="timestamp")
        assert [parse_ts(m["ts"]) for m in newest.matches] == [now, years[0]], q
    cut = datetime.fromtimestamp(years[1] / 1e6, UTC).date()
    older = await search.search_messages(store, t.carol.caller, f"before:{cut} in:#general")
    assert [m["text"] for m in older.matches] == ["ancient yak 2"]
    between = await search.search_messages(store, t.carol.caller, f"after:{cut} before:today yak")
    assert [m["text"] for m in between.matches] == ["ancient yak 0"]


@pytest.mark.parametrize(
    ("q", "detail"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-deploy", "only excluded"),
        ("in:", "in: needs"),
        ("on:2024-13-45", "on:"),
        ("has:everything", "has:"),
        ("x" * 1001, "longer than 1000"),
    ],
)
async def test_invalid_queries(q: str, detail: str) -> None:
    with pytest.raises(SlackError) as err:  # refused before any database access
        await search.search_messages(None, Caller("T0", "U0", "x"), q)  # type: ignore[arg-type]
    assert err.value.code == "invalid_arguments"
    assert err.value.detail is not None and detail in err.value.detail


async def test_sqlite_tokenizer_matches_the_parser() -> None:
    """Changing FTS5_TOKENIZE needs a new migration that rebuilds the index."""
    statements = migrations.statements("sqlite", migrations.MIGRATIONS[1][2])
    assert f"tokenize='{FTS5_TOKENIZE}'" in statements[0]


async def test_migration_indexes_existing_messages(
    database_urls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_urls[0].startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = database_urls[0].rsplit("/", 1)[0] + f"/flannel_test_{secrets.token_hex(4)}_mig"
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        old = await Store.open([url])
        t = await make_team(old)
        await messages.post(old, t.alice.caller, t.general, "heritage porcupine from before search")
        await old.close()
    store = await Store.open([url])
    try:
        found = await search.search_messages(store, t.bob.caller, "porcupine")
        assert [m["text"] for m in found.matches] == ["heritage porcupine from before search"]
        await messages.post(store, t.alice.caller, t.general, "porcupine the second")
        assert (await search.search_messages(store, t.bob.caller, "porcupine")).total == 2
    finally:
        await store.close()
        if url.startswith("mysql"):
            from origin.store.mysql import drop_database
            from origin.store.urls import mysql_params

            await drop_database(mysql_params(url))
