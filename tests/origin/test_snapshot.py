"""Snapshots and the event schema agree: events after X applied to snapshot(X) = snapshot(now)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from origin.service import conversations, dms, messages, reactions, users
from origin.snapshot.stream import pages
from origin.store.shards import Store
from tests.factories import Team, make_team
from wire.errors import SlackError
from wire.state import WorkspaceState


async def snapshot(store: Store, team_id: str, page: int = 2) -> WorkspaceState:
    state: WorkspaceState | None = None
    async for item in pages(store, team_id, page=page):
        if item["type"] == "header":
            state = WorkspaceState(item["team"], item["offset"])
        else:
            assert state is not None
            state.add_page(item)
    assert state is not None
    return state


async def events_after(store: Store, team_id: str, offset: int) -> list[dict[str, Any]]:
    async with store.read(team_id) as conn:
        rows = await conn.fetchall(
            "SELECT payload FROM outbox WHERE team_id = ? AND event_offset > ? ORDER BY event_offset",
            [team_id, offset],
        )
    return [orjson.loads(r[0]) for r in rows]


def comparable(state: WorkspaceState) -> tuple[Any, ...]:
    return (state.offset, state.users, state.channels, {k: sorted(v) for k, v in state.members.items()})


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "user",
                "profile",
                "deactivate",
                "channel",
                "private",
                "join",
                "leave",
                "invite",
                "kick",
                "rename",
                "topic",
                "purpose",
                "archive",
                "unarchive",
                "post",
                "react",
                "dm",
            ]
        ),
        st.integers(0, 2),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)


async def run_op(store: Store, team: Team, channels: list[str], op: tuple[str, int, int]) -> None:
    kind, who, which = op
    actor = team.users[who % len(team.users)]
    target = team.users[(who + 1) % len(team.users)]
    channel = channels[which % len(channels)]
    try:
        if kind == "user":
            await users.create_user(store, team.id, f"user{len(team.users)}x{which}{who}")
        elif kind == "profile":
            await users.set_profile(
                store, actor.caller, {"status_text": f"s{which}", "real_name": f"R {which}"}
            )
        elif kind == "deactivate":
            await users.set_deleted(store, team.id, target.id, which % 2 == 0)
        elif kind in ("channel", "private"):
            c = await conversations.create(store, actor.caller, f"c-{which}-{who}", kind == "private")
            channels.append(c["id"])
        elif kind == "join":
            await conversations.join(store, actor.caller, channel)
        elif kind == "leave":
            await conversations.leave(store, actor.caller, channel)
        elif kind == "invite":
            await conversations.invite(store, actor.caller, channel, [target.id])
        elif kind == "kick":
            await conversations.kick(store, actor.caller, channel, target.id)
        elif kind == "rename":
            await conversations.rename(store, actor.caller, channel, f"renamed-{which}-{who}")
        elif kind in ("topic", "purpose"):
            await conversations.set_text(store, actor.caller, channel, kind, f"{kind} {which}")
        elif kind in ("archive", "unarchive"):
            await conversations.set_archived(store, actor.caller, channel, kind == "archive")
        elif kind == "post":
            msg, _ = await messages.post(store, actor.caller, channel, f"hello {which}")
            ts = int(msg["ts"].replace(".", ""))
            await reactions.set_reaction(store, target.caller, channel, ts, "tada", True)
        elif kind == "react":
            pass
        elif kind == "dm":
            c, _ = await dms.open_dm(store, actor.caller, [target.id])
            channels.append(c["id"])
    except SlackError:
        pass  # refused operations change nothing, which the equality below also checks


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=OPS, after=OPS)
def test_events_after_x_applied_to_snapshot_x_equal_snapshot_now(
    database_urls: list[str], before: Any, after: Any
) -> None:
    """On SQLite and on MariaDB (each example in a workspace of its own)."""
    import asyncio

    async def scenario() -> None:
        store = await Store.open(database_urls)
        try:
            await check(store, before, after)
        finally:
            await store.close()

    asyncio.run(scenario())


async def check(store: Store, before: Any, after: Any) -> None:
    team = await make_team(store)
    channels = [team.general, team.private]
    for op in before:
        await run_op(store, team, channels, op)
    at_x = await snapshot(store, team.id)
    for op in after:
        await run_op(store, team, channels, op)
    now = await snapshot(store, team.id)
    for event in await events_after(store, team.id, at_x.offset):
        assert at_x.apply(event)
    assert comparable(at_x) == comparable(now)


async def test_snapshot_on_both_backends_matches_after_mutations(store: Store) -> None:
    team = await make_team(store)
    at_x = await snapshot(store, team.id)
    channels = [team.general, team.private]
    for op in [
        ("channel", 0, 1),
        ("invite", 0, 2),
        ("rename", 1, 0),
        ("profile", 2, 1),
        ("dm", 0, 0),
        ("leave", 1, 2),
        ("archive", 0, 2),
        ("user", 1, 1),
        ("deactivate", 1, 0),
    ]:
        await run_op(store, team, channels, op)
    now = await snapshot(store, team.id)
    for event in await events_after(store, team.id, at_x.offset):
        assert at_x.apply(event)
    assert comparable(at_x) == comparable(now)
    assert now.offset > 0 and len(now.users) == 4
