"""``client.counts`` at the origin (from the database) answers what the edge answers from
memory for the same state: same groups, ids, cursors, latest and counts."""

from __future__ import annotations

from flannel.cache import WorkspaceBuilder
from origin.service import conversations, dms, messages, readstate
from origin.snapshot.stream import pages
from tests.origin.calls import call
from tests.origin.conftest import InProcess
from wire.ids import parse_ts


async def test_origin_counts_equal_the_edges(app: InProcess) -> None:
    store, team = app.store, app.team
    alice, bob = team.alice, team.bob
    await messages.post(store, alice.caller, team.general, f"hi <@{bob.id}>")
    second, _ = await messages.post(store, alice.caller, team.general, "<!channel> all")
    await messages.post(store, bob.caller, team.general, "mine")
    await messages.post(store, alice.caller, team.private, "secret")
    await readstate.mark(store, bob.caller, team.general, parse_ts(second["ts"]))
    dm, _ = await dms.open_dm(store, alice.caller, [bob.id])
    await messages.post(store, alice.caller, dm["id"], "psst")
    quiet = await conversations.create(store, bob.caller, "quiet", False)
    got = await call(app, "client.counts", bob.token)
    assert got["ok"], got
    builder = WorkspaceBuilder()
    async for page in pages(store, team.id):
        builder.add_page(page)
    edge = builder.finish().client_counts(bob.id)
    assert {k: got[k] for k in ("channels", "mpims", "ims")} == edge
    general = next(c for c in got["channels"] if c["id"] == team.general)
    assert general["unread_count"] == 1 and general["mention_count"] == 0 and not general["has_unreads"]
    assert [c["id"] for c in got["ims"]] == [dm["id"]] and got["ims"][0]["has_unreads"]
    assert next(c for c in got["channels"] if c["id"] == quiet["id"])["latest"] is None


async def test_origin_finds_mentions_as_the_edge_parses_them(app: InProcess) -> None:
    """Markup is case-sensitive and needs its ``<``: the origin's byte-wise test counts what
    the edge's parser counts (``<!HERE>`` and ``@here`` are plain text to both)."""
    store, team = app.store, app.team
    alice, bob = team.alice, team.bob
    for text in (
        f"hey <@{bob.id}|bob>",
        "<!everyone> standup",
        "<!HERE> shouting",
        "@here without markup",
        f"lowercase <@{bob.id.lower()}>",
        "a < b and c > d",
        "<!here|here> ok",
    ):
        await messages.post(store, alice.caller, team.general, text)
    got = await call(app, "client.counts", bob.token)
    builder = WorkspaceBuilder()
    async for page in pages(store, team.id):
        builder.add_page(page)
    edge = builder.finish().client_counts(bob.id)
    assert {k: got[k] for k in ("channels", "mpims", "ims")} == edge
    general = next(c for c in got["channels"] if c["id"] == team.general)
    assert general["mention_count"] == 3 and general["unread_count"] == 7
