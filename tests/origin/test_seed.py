"""``flannel seed``: deterministic content, the service invariants, and readable through the API."""

from __future__ import annotations

import io
import itertools
import os
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pymysql
import pytest

from flannel_cli.main import build_parser
from flannel_cli.seed import run
from origin.models import default_profile
from origin.seed import build, seed_workspace
from origin.service import conversations, history, listing, messages, teams, users
from origin.service.auth import Caller, authenticate
from origin.service.users import validate_username
from origin.store.mysql import drop_database
from origin.store.shards import Store
from origin.store.urls import mysql_params
from wire.ids import now_us

MYSQL_SERVER = os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
USERS, CHANNELS, MESSAGES = 300, 24, 900
_MENTION = re.compile(r"<@(U[A-Z0-9]+)>")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open([f"sqlite:///{tmp_path}/seed.db"])
    try:
        yield opened
    finally:
        await opened.close()


async def _open_sqlite(path: Path) -> Store:
    return await Store.open([f"sqlite:///{path}"])


async def content(store: Store, team_id: str) -> dict[str, Any]:
    """A workspace with its ids replaced by names: what must not depend on the team id."""
    async with store.read(team_id) as conn:
        urows = await conn.fetchall(
            "SELECT id, name, real_name, is_admin, tz, profile FROM users WHERE team_id = ?", [team_id]
        )
        names = {r[0]: r[1] for r in urows}
        crows = await conn.fetchall(
            "SELECT id, name, kind, is_private, num_members FROM conversations WHERE team_id = ?", [team_id]
        )
        mrows = await conn.fetchall("SELECT channel_id, user_id FROM members WHERE team_id = ?", [team_id])
        msgs = await conn.fetchall(
            "SELECT channel_id, user_id, text, reply_count FROM messages WHERE team_id = ? ORDER BY ts",
            [team_id],
        )
    members: dict[str, set[str]] = {}
    for cid, uid in mrows:
        members.setdefault(cid, set()).add(names[uid])
    label = {
        cid: name if kind == "channel" else f"{kind}:{','.join(sorted(members[cid]))}"
        for cid, name, kind, _, _ in crows
    }
    return {
        "users": sorted((r[1], r[2], bool(r[3]), r[4], r[5]) for r in urows),
        "conversations": sorted((label[r[0]], bool(r[3]), int(r[4])) for r in crows),
        "members": sorted((label[c], sorted(m)) for c, m in members.items()),
        "messages": [
            (label[c], names[u], _MENTION.sub(lambda m: f"<@{names[m[1]]}>", t), n) for c, u, t, n in msgs
        ],
    }


async def check_invariants(store: Store, result: dict[str, Any]) -> None:
    """What the service functions guarantee must hold for bulk-seeded rows too."""
    team_id = result["team_id"]
    async with store.read(team_id) as conn:
        users_ = await conn.fetchall(
            "SELECT id, name, is_admin, email FROM users WHERE team_id = ?", [team_id]
        )
        convs = await conn.fetchall(
            "SELECT id, name, kind, is_private, num_members, last_ts, dm_key FROM conversations "
            "WHERE team_id = ?",
            [team_id],
        )
        members = await conn.fetchall("SELECT channel_id, user_id FROM members WHERE team_id = ?", [team_id])
        msgs = await conn.fetchall(
            "SELECT channel_id, ts, user_id, thread_ts, reply_count, reply_users, latest_reply "
            "FROM messages WHERE team_id = ? ORDER BY channel_id, ts",
            [team_id],
        )
        reactions = await conn.fetchall(
            "SELECT r.channel_id, r.ts, r.user_id FROM reactions r JOIN conversations c "
            "ON c.id = r.channel_id WHERE c.team_id = ?",
            [team_id],
        )
        seq = await conn.fetchone("SELECT event_seq FROM teams WHERE id = ?", [team_id])
        outbox = await conn.fetchone("SELECT COUNT(*) FROM outbox WHERE team_id = ?", [team_id])
    assert seq == (0,) and outbox == (0,), "bulk seeding writes no events"
    assert len(users_) == result["users"]
    names = [str(u[1]) for u in users_]
    assert len(set(names)) == len(names)
    for uid, name, _, email in users_:
        validate_username(name)
        assert email == f"{name}@example.com" and str(uid).startswith("U")

    by_channel: dict[str, set[str]] = {}
    for cid, uid in members:
        by_channel.setdefault(str(cid), set()).add(str(uid))
    channels = [c for c in convs if c[2] == "channel"]
    assert len(channels) == result["channels"]
    assert len({c[1] for c in channels}) == len(channels)
    for cid, name, kind, is_private, num_members, _, dm_key in convs:
        assert num_members == len(by_channel[cid]) > 0
        if kind == "channel":
            assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) and dm_key is None
            assert str(cid).startswith("C")
        else:
            assert is_private and dm_key == ",".join(sorted(by_channel[cid]))
            assert str(cid).startswith("D" if kind == "im" else "G")
            assert (kind == "im") == (num_members == 2)
    assert any(c[3] for c in channels), "some channels are private"
    assert {"general", "random"} <= {c[1] for c in channels}
    admin = result["tokens"][0]["user_id"]
    assert all(admin in by_channel[c[0]] for c in channels if not c[3])
    assert next(u for u in users_ if u[0] == admin)[2] == 1
    assert sum(1 for c in convs if c[2] == "im") == result["ims"] > 0

    assert len(msgs) == result["messages"]
    kinds = {c[0]: c for c in convs}
    by_key = {(m[0], m[1]): m for m in msgs}
    for conv_id, group in itertools.groupby(msgs, key=lambda m: m[0]):
        stamps = [int(m[1]) for m in group]
        assert all(a < b for a, b in itertools.pairwise(stamps))
        assert kinds[conv_id][5] == stamps[-1], "last_ts is the newest message"
    assert all(c[5] == 0 for c in convs if c[0] not in {m[0] for m in msgs})
    now = now_us()
    replies: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for cid, ts, uid, thread_ts, _count, _users, _latest in msgs:
        assert ts < now and uid in by_channel[cid], "posted in the past by a member"
        if thread_ts is not None and thread_ts != ts:
            parent = by_key[(cid, thread_ts)]
            assert parent[3] == parent[1] and ts > thread_ts
            replies.setdefault((cid, thread_ts), []).append((ts, uid))
    assert 0.08 < sum(len(r) for r in replies.values()) / len(msgs) < 0.25
    for cid, ts, _, thread_ts, count, reply_users, latest in msgs:
        thread = replies.get((cid, ts), [])
        if thread:
            assert thread_ts == ts and count == len(thread) and latest == max(t for t, _ in thread)
            assert orjson.loads(reply_users) == list(dict.fromkeys(u for _, u in sorted(thread)))
        else:
            assert count == 0 and reply_users is None and latest is None
    assert reactions and len(reactions) == result["reactions"]
    for cid, ts, uid in reactions:
        assert (cid, ts) in by_key and uid in by_channel[cid]


def test_build_is_deterministic_for_a_seed() -> None:
    now = now_us()
    one, again, other_team = (build(7, t, 400, 30, 800, now) for t in ("TONE", "TONE", "TTWO"))
    assert one.users == again.users and one.messages == again.messages and one.members == again.members
    assert not set(one.user_ids) & set(other_team.user_ids), "ids depend on the team"
    assert [u[2:] for u in one.users] == [u[2:] for u in other_team.users]
    other_seed = build(8, "TONE", 400, 30, 800, now)
    assert [u[2] for u in other_seed.users] != [u[2] for u in one.users]


def test_names_are_realistic() -> None:
    ws = build(3, "TNAMES", 3000, 10, 0, now_us())
    names = [str(u[2]) for u in ws.users]
    real = [str(u[3]) for u in ws.users]
    assert sum(n.startswith("alex") for n in names) > 10
    assert len({n.split(".")[0] for n in names if n.startswith("ann")}) >= 3, "shared prefixes"
    assert any(not r.isascii() for r in real), "some accented names"
    assert any(n[-1].isdigit() for n in names), "collisions get digits"
    profiles = [orjson.loads(u[9]) for u in ws.users]
    assert any(p["display_name"] for p in profiles) and any(p["title"] for p in profiles)
    u = ws.users[0]
    shape = default_profile(str(u[2]), str(u[3]), str(u[10]))
    assert all(p.keys() == shape.keys() for p in profiles)
    sizes = [len(c.members) for c in ws.channels()]
    assert sizes[0] == sizes[1] == 3000 and sizes[2] > sizes[-1] >= 2


async def test_same_seed_same_workspace_in_two_databases(tmp_path: Path) -> None:
    results, contents = [], []
    for name in ("a.db", "b.db"):
        store = await _open_sqlite(tmp_path / name)
        try:
            result = await seed_workspace(store, USERS, CHANNELS, MESSAGES, seed=11)
            results.append(result)
            contents.append(await content(store, result["team_id"]))
        finally:
            await store.close()
    assert results[0]["team_id"] != results[1]["team_id"]
    assert contents[0] == contents[1]
    assert [t["name"] for t in results[0]["tokens"]] == [t["name"] for t in results[1]["tokens"]]


async def test_seeded_rows_keep_the_invariants(sqlite_store: Store) -> None:
    lines: list[str] = []
    result = await seed_workspace(sqlite_store, USERS, CHANNELS, MESSAGES, 5, "Invariant Inc", lines.append)
    assert (result["users"], result["channels"], result["messages"]) == (USERS, CHANNELS, MESSAGES)
    assert result["team"]["name"] == "Invariant Inc" and result["team"]["id"] == result["team_id"]
    assert len(result["tokens"]) == 5 and list(result["channel_ids"])[:2] == ["general", "random"]
    assert lines and all(line.startswith("seed: ") for line in lines)
    await check_invariants(sqlite_store, result)


async def test_seeding_twice_into_one_database(sqlite_store: Store) -> None:
    first = await seed_workspace(sqlite_store, 50, 6, 100, seed=2)
    second = await seed_workspace(sqlite_store, 50, 6, 100, seed=2)
    assert first["team_id"] != second["team_id"]
    assert await content(sqlite_store, first["team_id"]) == await content(sqlite_store, second["team_id"])
    await check_invariants(sqlite_store, second)


async def test_the_api_reads_a_seeded_workspace(sqlite_store: Store) -> None:
    result = await seed_workspace(sqlite_store, USERS, CHANNELS, MESSAGES, seed=9)
    team_id = result["team_id"]
    callers = [await authenticate(sqlite_store, t["token"]) for t in result["tokens"]]
    assert [c.user_id for c in callers] == [t["user_id"] for t in result["tokens"]]
    admin = callers[0]
    assert admin.is_admin and admin.team_id == team_id

    seen: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page, next_cursor = await users.list_users(sqlite_store, admin, 70, after)
        seen += page
        if next_cursor is None:
            break
        after = page[-1]["id"]
    assert len({u["id"] for u in seen}) == USERS
    me = await users.get_user(sqlite_store, admin, admin.user_id)
    assert me["name"] == result["tokens"][0]["name"] and me["profile"]["email"].endswith("@example.com")

    general = result["channel_ids"]["general"]
    info = await conversations.info(sqlite_store, admin, general)
    assert info["num_members"] == USERS and info["purpose"]["value"]
    listed, _ = await listing.list_conversations(
        sqlite_store, admin, {"public_channel", "im", "mpim"}, False, 1000, None
    )
    public = [c for c in listed if c["is_channel"] and not c["is_private"]]
    assert public and all(c["is_member"] for c in public)
    assert any(c["is_im"] for c in listed) and any(c["is_mpim"] for c in listed)

    page, _, _ = await history.history(sqlite_store, admin, general, 0, None, False, 100, None)
    assert page and all(m["text"] for m in page)
    stamps = [m["ts"] for m in page]
    assert stamps == sorted(stamps, reverse=True)
    thread = next(m for m in page if m.get("reply_count"))
    from wire.ids import parse_ts

    found, _, _ = await history.replies(
        sqlite_store, admin, general, parse_ts(thread["ts"]), 0, None, True, 100, None
    )
    assert len(found) == thread["reply_count"] + 1
    assert all(m["parent_user_id"] == thread["user"] for m in found[1:])  # seeded like posted
    assert found[-1]["ts"] == thread["latest_reply"]

    # a seeded workspace takes normal writes afterwards, and those do emit events
    posted, offset = await messages.post(sqlite_store, admin, general, "hello after seeding")
    assert offset == 1 and posted["ts"] > stamps[0]
    assert await teams.current_offset(sqlite_store, team_id) == 1


async def test_cli_prints_one_json_object(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    args = build_parser().parse_args(
        [
            "seed",
            "--users",
            "40",
            "--channels",
            "5",
            "--messages",
            "60",
            "--seed",
            "4",
            "--team-name",
            "Cli Co",
            "--database-url",
            url,
        ]
    )
    out = io.StringIO()
    with redirect_stdout(out):
        assert await run(args) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    printed = orjson.loads(lines[0])
    assert printed["ok"] is True and printed["team"]["name"] == "Cli Co"
    assert (printed["users"], printed["channels"], printed["messages"]) == (40, 5, 60)
    assert isinstance(printed["seconds"], float)
    store = await _open_sqlite(tmp_path / "cli.db")
    try:
        caller = await authenticate(store, printed["tokens"][0]["token"])
        assert caller == Caller(printed["team_id"], printed["tokens"][0]["user_id"], caller.token_hash, True)
    finally:
        await store.close()

    bad = build_parser().parse_args(["seed", "--users", "0", "--database-url", url])
    out = io.StringIO()
    with redirect_stdout(out):
        assert await run(bad) == 1
    assert orjson.loads(out.getvalue())["ok"] is False

    nameless = build_parser().parse_args(["seed", "--users", "3", "--team-name", " ", "--database-url", url])
    out = io.StringIO()
    with redirect_stdout(out):
        assert await run(nameless) == 1
    assert orjson.loads(out.getvalue())["error"] == "invalid_arguments"


@pytest.mark.mysql
async def test_seed_on_mariadb() -> None:
    url = f"{MYSQL_SERVER}/flannel_seedtest_{secrets.token_hex(4)}"
    try:
        store = await Store.open([url])
    except (OSError, pymysql.MySQLError) as exc:
        if os.environ.get("FLANNEL_REQUIRE_SERVICES") == "1":
            raise
        pytest.skip(f"MariaDB is not reachable: {exc}")
    try:
        result = await seed_workspace(store, 2000, 40, 1500, seed=21, team_name="Maria")
        await check_invariants(store, result)
        caller = await authenticate(store, result["tokens"][1]["token"])
        page, _ = await users.list_users(store, caller, 1000, None)
        assert len(page) == 1000
        seeded = await content(store, result["team_id"])
        counts = Counter(kind.split(":")[0] for kind, _, _ in seeded["conversations"])
        assert counts["im"] == result["ims"] and counts["mpim"] == result["mpims"]
    finally:
        await store.close()
        await drop_database(mysql_params(url))
