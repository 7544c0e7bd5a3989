"""Posts decided as a batch (origin/service/messages.py ``Posts``, origin/store/group.py jobs):
the posts queued behind a workspace's lock are read, decided and written together, and the
outcome is exactly that of the same posts run one after the other, alone, on SQLite and
MariaDB: the same answers and refusals, events, offsets, thread fields and rows."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from origin.service import conversations, dms, message_batches, message_writes, messages, pins, reactions
from origin.service.content import Content
from origin.service.teams import current_offset
from origin.store.group import MAX_GROUP
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.origin.test_group_commit import Holder, queued_behind
from wire.errors import SlackError
from wire.ids import now_us, parse_ts, ts_str

_TS = re.compile(r"\d{10}\.\d{6}")


@dataclass
class World:
    """A workspace with what the script posts into besides #general."""

    team: Team
    root: int  # a thread root in #general
    reply: int  # a reply in that thread (replies to it belong to the root's thread)
    other_root: int  # another message in #general
    dm: str  # alice and bob's DM, closed by bob
    archived: str  # an archived channel alice is in
    side: str  # a public channel carol is not in


async def world(store: Store) -> World:
    team = await make_team(store)
    alice, bob = team.alice.caller, team.bob.caller
    root, _ = await messages.post(store, alice, team.general, "root")
    reply, _ = await messages.post(store, bob, team.general, "first reply", parse_ts(root["ts"]))
    other, _ = await messages.post(store, team.carol.caller, team.general, "other root")
    dm, _ = await dms.open_dm(store, alice, [team.bob.id])
    await dms.close(store, bob, str(dm["id"]))
    archived = await conversations.create(store, alice, "old-stuff", False)
    await conversations.set_archived(store, alice, str(archived["id"]), True)
    side = await conversations.create(store, alice, "side", False)
    stamps = parse_ts(root["ts"]), parse_ts(reply["ts"]), parse_ts(other["ts"])
    return World(team, *stamps, str(dm["id"]), archived["id"], side["id"])


Op = Callable[[Store, World], Awaitable[Any]]

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "blocky reply"}}]

SCRIPT: list[Op] = [
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.general, "p1"),
    lambda s, w: messages.post(s, w.team.bob.caller, w.team.general, "r1", w.root),
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.general, "o1", w.other_root),  # 2 threads
    # a reply to a reply, broadcast: in the root's thread and in the channel
    lambda s, w: messages.post(s, w.team.carol.caller, w.team.general, "r2", w.reply, broadcast=True),
    lambda s, w: messages.post(s, w.team.carol.caller, w.team.private, "not hers"),  # channel_not_found
    lambda s, w: messages.post(s, w.team.alice.caller, w.archived, "too late"),  # is_archived
    lambda s, w: messages.post(s, w.team.bob.caller, w.team.general, "lost", w.root + 1),  # message_not_found
    lambda s, w: messages.post(s, w.team.carol.caller, w.side, "outsider"),  # not_in_channel
    lambda s, w: messages.post(s, w.team.alice.caller, w.dm, "dm1"),  # reopens it for bob
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.general, "c1", client_msg_id="id-1"),
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.general, "c1 again", client_msg_id="id-1"),
    lambda s, w: messages.post(s, w.team.alice.caller, w.dm, "c1 elsewhere", client_msg_id="id-1"),
    lambda s, w: messages.post(s, w.team.bob.caller, "#general", "by name"),  # runs alone
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.carol.id, "to carol"),  # alone: opens a DM
    lambda s, w: messages.post(s, w.team.carol.caller, w.team.general, "r3", w.root, content=Content(BLOCKS)),
    lambda s, w: messages.post(s, w.team.alice.caller, w.team.general, "waves", subtype="me_message"),
    lambda s, w: messages.post(s, w.team.bob.caller, w.team.general, "r4", w.reply),
    lambda s, w: messages.post(s, w.team.bob.caller, w.side, "p2"),
]


class Normal:
    """A workspace's ids as labels and its message timestamps as ordinals, so that two
    workspaces' outcomes compare."""

    def __init__(self, w: World, stamps: list[int], others: list[str]) -> None:
        t = w.team
        self.labels = {t.id: "T", t.general: "general", t.private: "private", w.dm: "dm"}
        self.labels |= {w.archived: "archived", w.side: "side"}
        self.labels |= {m.id: m.name for m in t.users}
        self.labels |= {c: f"conv{i}" for i, c in enumerate(c for c in others if c not in self.labels)}
        self.ids = re.compile("|".join(map(re.escape, self.labels)))
        self.order = {ts_str(ts): f"t{i}" for i, ts in enumerate(sorted(stamps))}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: self(v) for k, v in value.items() if k not in ("event_ts", "offset", "created")}
            for key in ("members", "members_key"):  # in id order: labels sort another way
                if key in out:
                    out[key] = sorted(out[key]) if key == "members" else ",".join(sorted(out[key].split(",")))
            return out
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, str):
            if value in self.labels:
                return self.labels[value]
            if _TS.fullmatch(value):
                return self.order.get(value, "?")
            return self.ids.sub(lambda m: self.labels[m.group()], value)  # ids inside (dm_key)
        return value


async def outcome(store: Store, w: World, start: int, answers: list[Any]) -> dict[str, Any]:
    tid = w.team.id
    async with store.read(tid) as conn:
        rows = await conn.fetchall(
            f"SELECT {message_writes.MESSAGE_READ}, extra_text FROM messages WHERE team_id = ?",
            [tid],
        )
        events = await conn.fetchall(
            "SELECT event_offset, payload FROM outbox WHERE team_id = ? AND event_offset > ? "
            "ORDER BY event_offset",
            [tid, start],
        )
        open_rows = await conn.fetchall("SELECT user_id, is_open FROM members WHERE channel_id = ?", [w.dm])
        convs = await conn.fetchall(
            "SELECT id FROM conversations WHERE team_id = ? ORDER BY created, id", [tid]
        )
    norm = Normal(w, [int(r[1]) for r in rows], [str(c[0]) for c in convs])
    answered: list[Any] = []
    for a in answers:
        if isinstance(a, SlackError):
            answered.append(a.code)
        else:
            message, offset = a
            answered.append([norm(message), offset - start if offset else 0])
    stamp_columns = (1, 6, 9)  # ts, thread_ts, latest_reply

    def cell(i: int, v: Any) -> Any:
        if v is not None and i in stamp_columns:
            return norm(ts_str(v))
        return norm(v)

    table = sorted(([cell(i, v) for i, v in enumerate(r)] for r in rows), key=lambda r: (r[0], int(r[1][1:])))
    return {
        "answers": answered,
        "offsets": [int(e[0]) - start for e in events],
        "events": [norm(orjson.loads(e[1])) for e in events],
        "rows": table,
        "open": sorted(norm([str(u), int(o)]) for u, o in open_rows),
        "last_offset": await current_offset(store, tid) - start,
    }


async def run_script(store: Store, grouped: bool) -> tuple[dict[str, Any], int]:
    """The script in a new workspace, queued behind one write (grouped) or one post at a time
    with grouping off; its outcome and the number of transactions it took."""
    w = await world(store)
    start = await current_offset(store, w.team.id)
    groups = store.group_commit.groups

    async def attempt(op: Op) -> Any:
        try:
            return await op(store, w)
        except SlackError as exc:
            return exc

    if grouped:
        holder = Holder(store, w.team.id)
        answers = await queued_behind(holder, *(lambda op=op: attempt(op) for op in SCRIPT))
        answers = [(None, holder.offset), *answers]
    else:
        store.group_commit.max_group = 1
        try:
            holder = Holder(store, w.team.id)
            holder.release.set()
            await holder.run()
            answers = [(None, holder.offset)] + [await attempt(op) for op in SCRIPT]
        finally:
            store.group_commit.max_group = MAX_GROUP
    return await outcome(store, w, start, answers[1:]), store.group_commit.groups - groups


async def test_a_batch_of_posts_ends_as_the_same_posts_one_by_one(store: Store) -> None:
    grouped, grouped_commits = await run_script(store, grouped=True)
    alone, alone_commits = await run_script(store, grouped=False)
    assert grouped == alone
    assert grouped_commits == 1  # the holder and every post: one transaction
    assert alone_commits == 1 + len([a for a in alone["answers"] if not isinstance(a, str)])
    answers = grouped["answers"]
    assert answers[4:8] == ["channel_not_found", "is_archived", "message_not_found", "not_in_channel"]
    assert answers[10][1] == 0 and answers[10][0] == answers[9][0]  # the same client_msg_id: the first
    assert answers[11] == "invalid_arguments"  # ... but not for another channel
    assert grouped["offsets"] == list(range(1, grouped["last_offset"] + 1))  # dense
    root = next(r for r in grouped["rows"] if r[4] == "root")
    assert root[7] == 5 and root[8] == '["bob","carol"]'  # the first reply, r1 to r4
    assert ["bob", 1] in grouped["open"]


async def test_posts_queued_together_take_one_transaction(store: Store) -> None:
    team = await make_team(store)
    start = await current_offset(store, team.id)
    groups = store.group_commit.groups
    holder = Holder(store, team.id)
    answers = await queued_behind(
        holder,
        *(
            lambda i=i: messages.post(store, team.users[i % 3].caller, team.general, f"m{i}")
            for i in range(6)
        ),
        lambda: messages.post(store, team.alice.caller, team.private, "secret"),
        lambda: messages.post(store, team.bob.caller, team.general, "r", now_us() + 10**10),  # no thread
    )
    assert store.group_commit.groups == groups + 1
    posted = [a for a in answers[:7] if isinstance(a, tuple)]
    assert [offset for _, offset in posted] == list(range(start + 2, start + 9))
    assert isinstance(answers[7], SlackError) and answers[7].code == "message_not_found"


async def future_message(store: Store, team: Team, channel: str) -> int:
    """A message stamped ahead of the channel's ``last_ts`` (as an import may leave one): the
    next post there computes the same ts, so its insert fails on the primary key."""
    async with store.read(team.id) as conn:
        row = await conn.fetchone("SELECT last_ts FROM conversations WHERE id = ?", [channel])
    assert row is not None
    ts = max(now_us(), int(row[0])) + 60_000_000
    async with store.write(team.id) as tx:
        await tx.conn.execute(
            "INSERT INTO messages (channel_id, ts, team_id, user_id, text) VALUES (?, ?, ?, ?, ?)",
            [channel, ts, team.id, team.alice.id, "from the future"],
        )
        await tx.conn.execute("UPDATE conversations SET last_ts = ? WHERE id = ?", [ts - 1, channel])
    return ts


@pytest.mark.parametrize("behind_a_write", [True, False], ids=["after-a-kept-write", "first"])
async def test_a_batch_whose_statements_fail_runs_its_posts_alone(store: Store, behind_a_write: bool) -> None:
    """The batch's insert fails (one post collides): the batch is undone, each post runs
    alone, and only the colliding one fails; offsets stay dense."""
    team = await make_team(store)
    side = await conversations.create(store, team.alice.caller, "side", False)
    await future_message(store, team, side["id"])
    start = await current_offset(store, team.id)

    def post(channel: str, text: str) -> Callable[[], Awaitable[object]]:
        return lambda: messages.post(store, team.alice.caller, channel, text)

    ops = [post(team.general, "a"), post(side["id"], "collides"), post(team.general, "b")]
    if behind_a_write:
        holder = Holder(store, team.id)
        answers = await queued_behind(holder, *ops)
        first = start + 2
    else:
        tasks: list[asyncio.Task[object]] = [asyncio.create_task(op()) for op in ops]  # type: ignore[arg-type]
        answers = list(await asyncio.gather(*tasks, return_exceptions=True))
        first = start + 1
    assert isinstance(answers[1], Exception) and not isinstance(answers[1], SlackError)
    assert [a[1] for a in (answers[0], answers[2])] == [first, first + 1]  # type: ignore[index]
    assert await current_offset(store, team.id) == first + 1
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            "SELECT text FROM messages WHERE channel_id IN (?, ?) ORDER BY ts", [team.general, side["id"]]
        )
    assert [r[0] for r in rows] == ["a", "b", "from the future"]


async def test_a_post_cancelled_while_queued_is_not_posted(store: Store) -> None:
    team = await make_team(store)
    start = await current_offset(store, team.id)
    holder = Holder(store, team.id)
    held = asyncio.create_task(holder.run())
    await holder.inside.wait()
    posts = [
        asyncio.create_task(messages.post(store, team.alice.caller, team.general, f"q{i}")) for i in range(3)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    posts[1].cancel()
    holder.release.set()
    await held
    with pytest.raises(asyncio.CancelledError):
        await posts[1]
    assert [(await p)[1] for p in (posts[0], posts[2])] == [start + 2, start + 3]


# -- chat.update and chat.delete as a batch (origin/service/messages.py ``Edits``) -------------


@dataclass
class EditWorld:
    """A workspace with messages to edit and delete besides #general's thread."""

    base: World
    stamps: dict[str, int]  # message name -> ts
    archived_msg: int  # a message of alice's in the archived channel


async def edit_world(store: Store) -> EditWorld:
    w = await world(store)
    t = w.team
    alice, bob, carol = t.alice.caller, t.bob.caller, t.carol.caller
    stamps = {"root": w.root, "reply": w.reply, "other": w.other_root}

    async def put(name: str, caller: Any, text: str, thread: int | None = None, **kw: Any) -> None:
        message, _ = await messages.post(store, caller, t.general, text, thread, **kw)
        stamps[name] = parse_ts(message["ts"])

    await put("r2", carol, "second reply", w.root)
    await put("r3", alice, "third reply", w.root, broadcast=True)
    await put("blocky", alice, "has blocks", content=Content(BLOCKS))
    await put("liked", alice, "liked and pinned")
    await put("bobs", bob, "bob's own")
    await put("o1", bob, "other's reply", w.other_root)
    await reactions.set_reaction(store, bob, t.general, stamps["liked"], "thumbsup", True)
    await reactions.set_reaction(store, carol, t.general, stamps["liked"], "eyes", True)
    await reactions.set_reaction(store, carol, t.general, stamps["bobs"], "eyes", True)
    await pins.add(store, alice, t.general, stamps["liked"])
    archived_chan = await conversations.create(store, alice, "closing", False)
    kept, _ = await messages.post(store, alice, archived_chan["id"], "before closing")
    await conversations.set_archived(store, alice, archived_chan["id"], True)
    w.archived = archived_chan["id"]
    return EditWorld(w, stamps, parse_ts(kept["ts"]))


EditOp = Callable[[Store, EditWorld], Awaitable[Any]]


def upd(who: str, name: str, text: str, content: Content | None = None) -> EditOp:
    def op(s: Store, e: EditWorld) -> Awaitable[Any]:
        caller = getattr(e.base.team, who).caller
        return messages.update(s, caller, e.base.team.general, e.stamps[name], text, content)

    return op


def dele(who: str, name: str, admin: bool = False) -> EditOp:
    def op(s: Store, e: EditWorld) -> Awaitable[Any]:
        caller = getattr(e.base.team, who).caller
        if admin:
            caller = replace(caller, is_admin=True)
        return messages.delete(s, caller, e.base.team.general, e.stamps[name])

    return op


EDIT_SCRIPT: list[EditOp] = [
    upd("alice", "root", "root v2"),
    upd("alice", "bobs", "not mine"),  # cant_update_message
    dele("bob", "reply"),  # shrinks the root's thread: r2, r3 are left
    upd("carol", "r2", "second reply, edited"),
    upd("alice", "root", "root v3"),  # sees the shrunk thread and its own first edit
    dele("bob", "reply"),  # message_not_found: deleted just before
    upd("alice", "liked", "   "),  # no_text
    upd("alice", "blocky", "still blocky"),  # keeps its blocks
    upd("alice", "blocky", "plain now", Content([])),  # an empty list removes them
    lambda s, e: messages.post(s, e.base.team.bob.caller, e.base.team.general, "between"),  # splits
    dele("alice", "liked"),  # its reactions and pin go too
    upd("alice", "liked", "gone"),  # message_not_found
    lambda s, e: messages.update(s, e.base.team.alice.caller, e.base.archived, e.archived_msg, "late"),
    lambda s, e: messages.delete(s, e.base.team.alice.caller, e.base.archived, e.archived_msg),  # allowed
    lambda s, e: messages.update(s, e.base.team.carol.caller, e.base.team.private, 1, "x"),  # not hers
    dele("carol", "bobs"),  # cant_delete_message
    upd("bob", "bobs", "bob's, edited"),
    dele("carol", "bobs", admin=True),  # an admin may: edited, then deleted in the same batch
    dele("alice", "root"),  # the root: its replies stay
    dele("carol", "r2"),  # a reply whose root is gone: nothing to shrink
    upd("alice", "root", "too late"),  # message_not_found
    dele("bob", "o1"),  # the other thread: no replies left
    upd("alice", "r3", "broadcast, edited"),
]


async def edit_outcome(store: Store, e: EditWorld, start: int, answers: list[Any]) -> dict[str, Any]:
    w, tid = e.base, e.base.team.id
    async with store.read(tid) as conn:
        rows = await conn.fetchall(
            f"SELECT {message_writes.MESSAGE_READ}, extra_text FROM messages WHERE team_id = ?", [tid]
        )
        events = await conn.fetchall(
            "SELECT event_offset, payload FROM outbox WHERE team_id = ? AND event_offset > ? "
            "ORDER BY event_offset",
            [tid, start],
        )
        convs = await conn.fetchall(
            "SELECT id FROM conversations WHERE team_id = ? ORDER BY created, id", [tid]
        )
        kept = await conn.fetchall(
            "SELECT 'reaction', channel_id, ts, name FROM reactions "
            "WHERE channel_id IN (SELECT id FROM conversations WHERE team_id = ?) "
            "UNION ALL SELECT 'pin', channel_id, ts, pinned_by FROM pins WHERE team_id = ?",
            [tid, tid],
        )
    stamps = [*e.stamps.values(), e.archived_msg, *(int(r[1]) for r in rows)]
    norm = Normal(w, stamps, [str(c[0]) for c in convs])
    answered: list[Any] = []
    for a in answers:
        if isinstance(a, SlackError):
            answered.append(a.code)
        elif isinstance(a, tuple):  # the post between
            answered.append([norm(a[0]), a[1] - start])
        else:
            answered.append(norm(a))
    stamp_columns = (1, 6, 9, 10)  # ts, thread_ts, latest_reply, edited_ts

    def cell(i: int, v: Any) -> Any:
        if v is not None and i in stamp_columns:
            return norm(ts_str(v))
        return norm(v)

    table = sorted(([cell(i, v) for i, v in enumerate(r)] for r in rows), key=lambda r: (r[0], r[1]))
    return {
        "answers": answered,
        "offsets": [int(ev[0]) - start for ev in events],
        "events": [norm(orjson.loads(ev[1])) for ev in events],
        "rows": table,
        "kept": sorted([str(k), norm(str(c)), norm(ts_str(int(ts))), norm(str(n))] for k, c, ts, n in kept),
        "last_offset": await current_offset(store, tid) - start,
    }


async def run_edit_script(store: Store, grouped: bool) -> tuple[dict[str, Any], int]:
    """:data:`EDIT_SCRIPT` in a new workspace, queued behind one write (grouped) or one
    write at a time with grouping off; its outcome and the number of transactions it took."""
    e = await edit_world(store)
    start = await current_offset(store, e.base.team.id)
    groups = store.group_commit.groups

    async def attempt(op: EditOp) -> Any:
        try:
            return await op(store, e)
        except SlackError as exc:
            return exc

    holder = Holder(store, e.base.team.id)
    if grouped:
        answers = await queued_behind(holder, *(lambda op=op: attempt(op) for op in EDIT_SCRIPT))
    else:
        store.group_commit.max_group = 1
        try:
            holder.release.set()
            await holder.run()
            answers = [await attempt(op) for op in EDIT_SCRIPT]
        finally:
            store.group_commit.max_group = MAX_GROUP
    return await edit_outcome(store, e, start + 1, answers), store.group_commit.groups - groups


async def test_a_batch_of_updates_and_deletes_ends_as_the_same_edits_one_by_one(store: Store) -> None:
    grouped, grouped_commits = await run_edit_script(store, grouped=True)
    alone, alone_commits = await run_edit_script(store, grouped=False)
    assert grouped == alone
    assert grouped_commits == 1  # the holder and every edit: one transaction
    assert alone_commits == 1 + len([a for a in alone["answers"] if not isinstance(a, str)])
    answers = grouped["answers"]
    assert [answers[i] for i in (1, 5, 6, 11, 12, 14, 15, 20)] == [
        "cant_update_message",
        "message_not_found",
        "no_text",
        "message_not_found",
        "is_archived",
        "channel_not_found",
        "cant_delete_message",
        "message_not_found",
    ]
    assert answers[4]["reply_count"] == 2 and answers[4]["text"] == "root v3"
    assert "blocks" in answers[7] and "blocks" not in answers[8]
    assert grouped["offsets"] == list(range(1, grouped["last_offset"] + 1))  # dense
    assert not [k for k in grouped["kept"] if k[0] == "pin"]  # the pinned message went
    assert [k[3] for k in grouped["kept"]] == []  # bobs' reaction went with it too
    types = [ev.get("subtype", ev["type"]) for ev in grouped["events"]]
    assert types.count("message_deleted") == 7 and types.count("message_changed") == 7


class CountingConn:
    """The batch's real connection, counting the statements sent through it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.statements = 0

    async def execute(self, sql: str, params: Any = ()) -> int:
        self.statements += 1
        return int(await self.conn.execute(sql, params))

    async def executemany(self, sql: str, rows: Any) -> None:
        self.statements += 1
        await self.conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Any = ()) -> Any:
        self.statements += 1
        return await self.conn.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Any = ()) -> Any:
        self.statements += 1
        return await self.conn.fetchall(sql, params)


class CountedEdits(message_batches.Edits):
    """:class:`message_batches.Edits`, recording each batch's size and statement count."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    async def run_batch(self, tx: Any, items: list[message_writes.EditItem]) -> list[Any]:
        real = tx.conn
        tx.conn = counting = CountingConn(real)
        try:
            return await super().run_batch(tx, items)
        finally:
            tx.conn = real
            self.batches.append((len(items), counting.statements))


@pytest.mark.parametrize("size", [2, 12])
async def test_edits_queued_together_take_few_statements(store: Store, size: int) -> None:
    """Updates and deletes behind one write: one transaction, one batch, and the same few
    statements whatever the number of edits (replies, so thread roots are read and shrunk)."""
    team = await make_team(store)
    root = parse_ts((await messages.post(store, team.alice.caller, team.general, "root"))[0]["ts"])
    posted = [
        (await messages.post(store, team.alice.caller, team.general, f"m{i}", root))[0] for i in range(size)
    ]
    stamps = [parse_ts(m["ts"]) for m in posted]
    start = await current_offset(store, team.id)
    groups = store.group_commit.groups
    edits = CountedEdits()
    db = await store.shard_of(team.id)

    def edit(kind: str, ts: int) -> Callable[[], Awaitable[object]]:
        item = message_writes.EditItem(kind, team.alice.caller, team.general, ts, "edited", Content())
        return lambda: store.group_commit.submit(db, team.id, edits, item)

    half = size // 2
    answers = await queued_behind(
        Holder(store, team.id),
        *(edit("update", ts) for ts in stamps[:half]),
        *(edit("delete", ts) for ts in stamps[half:]),
    )
    assert store.group_commit.groups == groups + 1
    assert [a["text"] for a in answers[:half]] == ["edited"] * half  # type: ignore[index]
    assert answers[half:] == [None] * (size - half)
    # reads: conversations, messages, thread roots, replies, reactions; writes: 4 deletes, the
    # edits, the root's reply fields
    assert edits.batches == [(size, 11)]
    assert await current_offset(store, team.id) == start + 1 + size
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            "SELECT text, reply_count FROM messages WHERE channel_id = ? ORDER BY ts", [team.general]
        )
    assert [tuple(r) for r in rows] == [("root", half)] + [("edited", 0)] * half
