"""Read state: the edge's counts (the pure core fed by the change log, from a snapshot taken
at the start and from one loaded in the middle) equal counts read from the origin's tables,
after every operation; and conversations.mark moves the cursor forward only."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flannel.cache import Workspace, WorkspaceBuilder
from origin.service import conversations, messages, readstate
from origin.snapshot.stream import pages
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.origin.test_snapshot import events_after
from wire.errors import SlackError
from wire.ids import parse_ts

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "post",
                "post",
                "reply",
                "broadcast",
                "edit",
                "delete",
                "join",
                "leave",
                "mark",
                "unread",
                "snap",
            ]
        ),
        st.integers(0, 2),  # who
        st.integers(0, 3),  # which channel / message / text
    ),
    min_size=1,
    max_size=30,
)
TEXTS = ["hi", "<@{0}> look", "<!channel> all", "<!here|here> now"]


async def load(store: Store, team_id: str) -> Workspace:
    builder = WorkspaceBuilder()
    async for page in pages(store, team_id):
        builder.add_page(page)
    return builder.finish()


async def run_op(store: Store, team: Team, channels: list[str], op: tuple[str, int, int]) -> None:
    kind, who, which = op
    actor = team.users[who]
    channel = channels[which % len(channels)]
    other = team.users[(who + which + 1) % 3]
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            "SELECT ts, user_id, thread_ts FROM messages WHERE channel_id = ? ORDER BY ts", [channel]
        )
    try:
        if kind == "post":
            await messages.post(store, actor.caller, channel, TEXTS[which].format(other.id))
        elif kind in ("reply", "broadcast") and rows:
            parent = int(rows[which % len(rows)][0])
            text = TEXTS[(which + 1) % 4].format(other.id)
            await messages.post(store, actor.caller, channel, text, parent, broadcast=kind == "broadcast")
        elif kind in ("edit", "delete"):
            mine = [int(r[0]) for r in rows if r[1] == actor.id]
            if mine:
                ts = mine[which % len(mine)]
                if kind == "edit":
                    await messages.update(
                        store, actor.caller, channel, ts, TEXTS[(which + 2) % 4].format(other.id)
                    )
                else:
                    await messages.delete(store, actor.caller, channel, ts)
        elif kind == "join":
            await conversations.join(store, actor.caller, channel)
        elif kind == "leave":
            await conversations.leave(store, actor.caller, channel)
        elif kind == "mark" and rows:
            await readstate.mark(store, actor.caller, channel, int(rows[-1 - which % len(rows)][0]))
        elif kind == "unread" and rows:
            await readstate.mark(store, actor.caller, channel, int(rows[which % len(rows)][0]) - 1, True)
    except SlackError:
        pass


async def same_counts(store: Store, team: Team, channels: list[str], ws: Workspace) -> None:
    async with store.read(team.id) as conn:
        for channel in channels:
            members = [
                str(r[0])
                for r in await conn.fetchall("SELECT user_id FROM members WHERE channel_id = ?", [channel])
            ]
            assert set(members) == set(ws.members_of(channel))
            for user in members:
                want = await readstate.reference_counts(conn, channel, user)
                assert want is not None
                got = ws.conversation(user, channel)
                assert parse_ts(got["last_read"]) == want.last_read, (channel, user)
                assert (got["unread_count"], got["unread_count_display"], got["mention_count"]) == (
                    want.unread_count,
                    want.unread_count_display,
                    want.mention_count,
                ), (channel, user)
                assert "unread_count_is_floor" not in got
                latest = got["latest"]
                assert (parse_ts(latest["ts"]) if latest else None) == want.latest
                assert got["has_unreads"] == bool(want.unread_count_display or want.mention_count)


async def check(store: Store, ops: list[tuple[str, int, int]]) -> None:
    team = await make_team(store)
    third = await conversations.create(store, team.bob.caller, "third", False)
    channels = [team.general, team.private, third["id"]]
    views = [await load(store, team.id)]
    for op in ops:
        if op[0] == "snap":
            views.append(await load(store, team.id))
            continue
        await run_op(store, team, channels, op)
        for ws in views:
            for event in await events_after(store, team.id, ws.offset):
                assert ws.apply(event)
            await same_counts(store, team, channels, ws)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=OPS)
def test_edge_counts_equal_the_database_at_every_offset(database_urls: list[str], ops: Any) -> None:
    """On SQLite and on MariaDB, each example in a workspace of its own."""

    async def scenario() -> None:
        store = await Store.open(database_urls)
        try:
            await check(store, ops)
        finally:
            await store.close()

    asyncio.run(scenario())


async def test_mark_moves_forward_only_unless_mark_unread(store: Store) -> None:
    team = await make_team(store)
    first, _ = await messages.post(store, team.bob.caller, team.general, "one")
    second, _ = await messages.post(store, team.bob.caller, team.general, f"two <@{team.alice.id}>")
    t1, t2 = parse_ts(first["ts"]), parse_ts(second["ts"])
    assert await readstate.mark(store, team.alice.caller, team.general, t2)
    assert not await readstate.mark(store, team.alice.caller, team.general, t1)  # a late mark
    assert not await readstate.mark(store, team.alice.caller, team.general, t2)  # no change
    async with store.read(team.id) as conn:
        assert (await readstate.reference_counts(conn, team.general, team.alice.id)).last_read == t2  # type: ignore[union-attr]
    assert await readstate.mark(store, team.alice.caller, team.general, t1, mark_unread=True)
    async with store.read(team.id) as conn:
        c = await readstate.reference_counts(conn, team.general, team.alice.id)
    assert c is not None and (c.last_read, c.unread_count, c.mention_count) == (t1, 1, 1)
    marks = [e for e in await events_after(store, team.id, 0) if e["type"] == "channel_marked"]
    assert [(e["user"], e["channel_type"]) for e in marks] == [(team.alice.id, "C")] * 2
    with_grouped = {row[0]: row for row in await _grouped(store, team)}
    assert with_grouped[team.general][2:5] == (1, 1, 1)


async def _grouped(store: Store, team: Team) -> list[tuple[str, int, int, int, int, int]]:
    async with store.read(team.id) as conn:
        return await readstate.counts_for_user(conn, team.id, team.alice.id)


async def test_joiners_start_at_the_newest_message(store: Store) -> None:
    """Slack's rule: a member who joins (or is invited, or added by an operator) has read
    everything said before; the event carries that cursor and the edge counts from it."""
    team = await make_team(store)
    third = await conversations.create(store, team.bob.caller, "third", False)
    channel = third["id"]
    async with store.read(team.id) as conn:
        creator = await readstate.reference_counts(conn, channel, team.bob.id)
    assert creator is not None and creator.last_read == 0  # a new channel has nothing to read
    views = [await load(store, team.id)]
    first, _ = await messages.post(store, team.bob.caller, channel, f"<@{team.alice.id}> hello")
    await messages.post(store, team.bob.caller, channel, "a reply", parse_ts(first["ts"]))
    await conversations.join(store, team.alice.caller, channel)
    await conversations.invite(store, team.bob.caller, channel, [team.carol.id])
    async with store.read(team.id) as conn:
        newest = (await conn.fetchone("SELECT MAX(ts) FROM messages WHERE channel_id = ?", [channel]))[0]
        for member in (team.alice, team.carol):
            c = await readstate.reference_counts(conn, channel, member.id)
            assert c is not None and (c.last_read, c.unread_count, c.mention_count) == (int(newest), 0, 0)
    joins = [e for e in await events_after(store, team.id, 0) if e["type"] == "member_joined_channel"]
    mine = [e for e in joins if e["channel"] == channel]
    assert [(e["user"], parse_ts(e["last_read"])) for e in mine] == [
        (team.alice.id, int(newest)),
        (team.carol.id, int(newest)),
    ]
    views.append(await load(store, team.id))
    for ws in views:
        for event in await events_after(store, team.id, ws.offset):
            ws.apply(event)
        await same_counts(store, team, [channel], ws)
        assert ws.conversation(team.alice.id, channel)["unread_count"] == 0
    await messages.post(store, team.bob.caller, channel, "after")
    for ws in views:
        for event in await events_after(store, team.id, ws.offset):
            ws.apply(event)
        await same_counts(store, team, [channel], ws)
        assert ws.conversation(team.carol.id, channel)["unread_count_display"] == 1
