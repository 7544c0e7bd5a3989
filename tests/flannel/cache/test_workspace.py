"""Workspace: snapshot loading, the same event rules as the origin, indexes and visibility."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flannel.cache import CacheError, SnapshotError, Workspace, WorkspaceBuilder
from tests.flannel.cache import JSON, base_state, conversation, event, pages_of, user
from wire.state import WorkspaceState

ALL_TYPES = {"public_channel", "private_channel", "mpim", "im"}


def workspace(state: WorkspaceState | None = None) -> Workspace:
    return Workspace.from_pages(pages_of(state or base_state()))


def code(fn: Any, *args: Any) -> Any:
    """The answer, or the CacheError code: lets tables of expectations compare both."""
    try:
        return fn(*args)
    except CacheError as e:
        return e.code


def all_pages(fetch: Any, limit: int = 2) -> list[Any]:
    """Follow a paged query to its end, checking every page respects the limit."""
    items: list[Any] = []
    after = None
    while True:
        page, after = fetch(limit, after)
        assert len(page) <= limit
        items.extend(page)
        if after is None:
            return items


# -- building ----------------------------------------------------------------------------------


def test_from_pages_holds_the_snapshot() -> None:
    ws = workspace()
    assert ws.team_id == "T1" and ws.offset == 10
    assert ws.user("U1")["name"] == "alice"
    assert sorted(ws.channels_of("U1")) == ["C1", "D1", "G1", "G2"]
    assert ws.estimate_bytes() > 0


def test_builder_rejects_broken_streams() -> None:
    good = pages_of(base_state())
    for broken in (good[1:], good[:-1], [*good, good[-1]], [good[0], *good]):
        builder = WorkspaceBuilder()
        with pytest.raises(SnapshotError):
            for page in broken:
                builder.add_page(page)
            builder.finish()
    lying = copy.deepcopy(good)
    lying[-1]["users"] += 1
    with pytest.raises(SnapshotError):
        Workspace.from_pages(lying)


def test_unknown_page_types_are_skipped() -> None:
    pages = pages_of(base_state())
    pages.insert(1, {"type": "emoji", "items": [1, 2]})
    assert Workspace.from_pages(pages).offset == 10


# -- users -------------------------------------------------------------------------------------


def test_user_lookups() -> None:
    ws = workspace()
    assert code(ws.user, "U9") == "user_not_found"
    found, missing = ws.users(["U2", "U9", "U1", "U2"])
    assert [u["id"] for u in found] == ["U2", "U1"] and missing == ["U9"]
    assert [u["id"] for u in all_pages(lambda n, a: ws.list_users("U3", n, a))] == ["U1", "U2", "U3", "U4"]
    assert code(ws.list_users, "U1", 0) == "invalid_limit"


def test_list_users_of_a_channel_requires_visibility() -> None:
    ws = workspace()
    assert [u["id"] for u in ws.list_users("U1", 10, None, "G1")[0]] == ["U1", "U2"]
    assert [u["id"] for u in ws.list_users("U3", 10, None, "C1")[0]] == ["U1", "U2", "U3"]
    for channel in ("G1", "D1", "nope"):
        assert code(ws.list_users, "U3", 10, None, channel) == "channel_not_found"


def test_search_users_ranks_and_excludes_deleted() -> None:
    ws = workspace()
    assert [u["id"] for u in ws.search_users("smith")] == ["U1", "U3"]  # word, then prefix... ranked
    assert [u["id"] for u in ws.search_users("ally")] == ["U1"]  # display name
    assert ws.search_users("dave") == []
    assert [u["id"] for u in ws.search_users("smith", 1)] == [ws.search_users("smith")[0]["id"]]


# -- visibility --------------------------------------------------------------------------------


VISIBLE = {  # caller -> conversations they may see (C2 is archived but public)
    "U1": {"C1", "C2", "G1", "D1", "G2"},
    "U2": {"C1", "C2", "G1", "D1", "G2"},
    "U3": {"C1", "C2", "G2"},
    "U4": {"C1", "C2"},
    "U9": {"C1", "C2"},
}


@pytest.mark.parametrize("caller", sorted(VISIBLE))
def test_every_query_enforces_visibility(caller: str) -> None:
    ws = workspace()
    for channel in ("C1", "C2", "G1", "D1", "G2", "C404"):
        seen = channel in VISIBLE[caller]
        assert ws.can_see(caller, channel) is seen
        if seen:
            assert ws.conversation(caller, channel)["id"] == channel
            assert ws.members(caller, channel, 10)[0] == sorted(base_state().members[channel])
        else:
            assert code(ws.conversation, caller, channel) == "channel_not_found"
            assert code(ws.members, caller, channel, 10) == "channel_not_found"
            assert code(ws.list_users, caller, 10, None, channel) == "channel_not_found"
    listed = {c["id"] for c in ws.list_conversations(caller, ALL_TYPES, False, 100)[0]}
    assert listed == VISIBLE[caller]
    for prefix in ("g", "s", "o", "mpdm", "u1", "secret"):
        assert {c["id"] for c in ws.search_conversations(caller, prefix, 10)} <= VISIBLE[caller]


def test_search_conversations_only_returns_visible_ones() -> None:
    ws = workspace()
    assert [c["id"] for c in ws.search_conversations("U1", "secret")] == ["G1"]
    assert ws.search_conversations("U3", "secret") == []
    assert [c["id"] for c in ws.search_conversations("U3", "mpdm")] == ["G2"]
    assert ws.search_conversations("U4", "mpdm") == []


def test_conversation_objects() -> None:
    ws = workspace()
    general = ws.conversation("U3", "C1")
    assert general["is_member"] is True and general["name"] == "general"
    assert ws.conversation("U4", "C1")["is_member"] is False
    dm = ws.conversation("U1", "D1")
    assert dm["user"] == "U2" and "is_member" not in dm
    assert ws.conversation("U2", "D1")["user"] == "U1"
    general["name"] = "mutated"
    assert ws.conversation("U3", "C1")["name"] == "general"  # a copy, not the cache's own


def test_list_conversations_types_archived_and_pages() -> None:
    ws = workspace()

    def ids(types: set[str], exclude: bool, caller: str = "U1") -> list[str]:
        return [c["id"] for c in all_pages(lambda n, a: ws.list_conversations(caller, types, exclude, n, a))]

    assert ids({"public_channel"}, False) == ["C1", "C2"]
    assert ids({"public_channel"}, True) == ["C1"]
    assert ids({"private_channel"}, False) == ["G1"]
    assert ids({"im"}, False) == ["D1"]
    assert ids({"mpim", "im"}, False) == ["D1", "G2"]
    assert ids(ALL_TYPES, False) == ["C1", "C2", "D1", "G1", "G2"]
    assert ids({"private_channel", "im", "mpim"}, False, "U3") == ["G2"]
    listed, next_after = ws.list_conversations("U1", {"public_channel"}, False, 1)
    info = ws.conversation("U1", "C1")  # info adds the member's counts and latest to the list's object
    assert next_after == "C1" and len(listed) == 1 and listed[0] == {k: info[k] for k in listed[0]}
    assert ws.list_conversations("U1", {"public_channel"}, True, 1)[1] is None  # no further match
    assert code(ws.list_conversations, "U1", {"dm"}, False, 10) == "invalid_types"


def test_hello_channels_is_compact_and_only_the_users_own() -> None:
    ws = workspace()
    hello = ws.hello_channels("U1")
    assert [c["id"] for c in hello] == ["C1", "D1", "G1", "G2"]
    counts = {
        "last_read": "0.000000",
        "latest": None,
        "unread_count": 0,
        "unread_count_display": 0,
        "mention_count": 0,
        "has_unreads": False,
    }
    assert hello[1] == {
        **counts,
        "id": "D1",
        "is_private": True,
        "is_im": True,
        "is_mpim": False,
        "is_archived": False,
        "user": "U2",
    }
    assert hello[0] == {
        **counts,
        "id": "C1",
        "name": "general",
        "is_private": False,
        "is_im": False,
        "is_mpim": False,
        "is_archived": False,
    }
    assert ws.hello_channels("U4") == []


# -- events ------------------------------------------------------------------------------------


def test_duplicates_are_no_ops_and_gaps_are_reported() -> None:
    ws = workspace()
    assert ws.apply(event(10, "user_change", user=user("U1", "alice", "Renamed Person")))
    assert ws.user("U1")["real_name"] == "Alice Smith"
    assert ws.apply(event(12, "message", channel="C1", text="hi")) is False
    assert ws.offset == 10
    assert ws.apply(event(11, "message", channel="C1", text="hi")) and ws.offset == 11


def test_profile_change_and_deactivation_reindex_users() -> None:
    ws = workspace()
    ws.apply(event(11, "user_change", user=user("U2", "bob", "Robert Jones", "bobby")))
    assert [u["id"] for u in ws.search_users("rob")] == ["U2"]
    assert [u["id"] for u in ws.search_users("bobby")] == ["U2"]
    ws.apply(event(12, "user_change", user=user("U2", "bob", "Robert Jones", deleted=True)))
    assert ws.search_users("bob") == [] and ws.user("U2")["deleted"] is True
    ws.apply(event(13, "user_change", user=user("U2", "bob", "Robert Jones")))
    assert [u["id"] for u in ws.search_users("bob")] == ["U2"]
    ws.apply(event(14, "team_join", user=user("U0", "zed", "Zed Smith")))
    assert [u["id"] for u in ws.users(["U0"])[0]] == ["U0"]
    assert [u["id"] for u in ws.list_users("U1", 2)[0]] == ["U0", "U1"]
    assert "U0" in [u["id"] for u in ws.search_users("zed")]


def test_rename_create_join_leave_reindex_channels() -> None:
    ws = workspace()
    ws.apply(event(11, "channel_rename", channel={"id": "G1", "name": "world-domination", "created": 1}))
    assert ws.search_conversations("U1", "secret") == []
    assert [c["id"] for c in ws.search_conversations("U1", "world")] == ["G1"]
    assert ws.conversation("U1", "G1")["name_normalized"] == "world-domination"

    created = conversation("C0", "announcements", members=("U2",))
    ws.apply(event(12, "channel_created", channel=created, members=["U2"]))
    assert [c["id"] for c in ws.search_conversations("U4", "ann")] == ["C0"]
    assert ws.list_conversations("U4", {"public_channel"}, False, 1)[0][0]["id"] == "C0"
    assert "C0" in ws.channels_of("U2")

    ws.apply(event(13, "member_joined_channel", channel="G1", user="U3", channel_type="G"))
    assert ws.can_see("U3", "G1") and ws.members("U3", "G1", 10)[0] == ["U1", "U2", "U3"]
    assert [c["id"] for c in ws.search_conversations("U3", "world")] == ["G1"]
    assert ws.conversation("U3", "G1")["num_members"] == 3
    ws.apply(event(14, "member_left_channel", channel="G1", user="U3", channel_type="G"))
    assert not ws.can_see("U3", "G1") and "G1" not in ws.channels_of("U3")
    assert ws.members("U1", "G1", 10)[0] == ["U1", "U2"]

    dm = conversation("D2", None, "im", members=("U1", "U3"))
    ws.apply(event(15, "channel_created", channel=dm, members=["U1", "U3"]))
    hello = {c["id"]: c for c in ws.hello_channels("U3")}
    assert hello["D2"]["user"] == "U1" and hello["D2"]["is_im"]
    assert not ws.can_see("U2", "D2")


def test_topic_purpose_archive() -> None:
    ws = workspace()
    topic = {"value": "plans", "creator": "U1", "last_set": 5}
    ws.apply(event(11, "channel_topic", channel="G1", topic=topic))
    ws.apply(event(12, "channel_archive", channel="C1", user="U1"))
    assert ws.conversation("U1", "G1")["topic"] == topic
    assert ws.hello_channels("U1")[0]["is_archived"] is True
    assert [c["id"] for c in ws.list_conversations("U1", {"public_channel"}, True, 10)[0]] == []
    ws.apply(event(13, "channel_unarchive", channel="C1", user="U1"))
    assert [c["id"] for c in ws.list_conversations("U1", {"public_channel"}, True, 10)[0]] == ["C1"]


def test_the_cache_does_not_share_objects_with_applied_events() -> None:
    ws = workspace()
    joined = event(11, "team_join", user=user("U5", "erin", "Erin Example"))
    ws.apply(joined)
    joined["user"]["name"] = "tampered"
    created = event(12, "channel_created", channel=conversation("C9", "nine"), members=[])
    ws.apply(created)
    created["channel"]["is_private"] = True
    assert ws.user("U5")["name"] == "erin" and ws.can_see("U1", "C9")


# -- snapshot(X) + events after X == snapshot(now) ---------------------------------------------

NAMES = ["ann", "anna", "bo", "smith", "jo", "zed"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "user",
                "profile",
                "deactivate",
                "reactivate",
                "channel",
                "private",
                "dm",
                "mpim",
                "join",
                "leave",
                "rename",
                "topic",
                "archive",
                "unarchive",
                "message",
            ]
        ),
        st.integers(0, 7),
        st.integers(0, 7),
    ),
    max_size=40,
)


def next_event(ref: WorkspaceState, op: tuple[str, int, int]) -> JSON | None:
    """A schema-valid event the origin could emit next for ``ref``, or None if ``op`` does not fit."""
    kind, a, b = op
    users, channels = sorted(ref.users), sorted(ref.channels)
    actor, other = users[a % len(users)], users[b % len(users)]
    channel = channels[b % len(channels)]
    named = ref.channels[channel].get("is_channel")
    offset = ref.offset + 1
    if kind == "user":
        return event(
            offset, "team_join", user=user(f"U{offset:03d}", NAMES[a % 6] + str(offset), NAMES[b % 6])
        )
    if kind in ("profile", "deactivate", "reactivate"):
        changed = copy.deepcopy(ref.users[actor])
        if kind == "profile":
            changed["real_name"] = changed["profile"]["real_name"] = f"{NAMES[b % 6]} {NAMES[a % 6]}"
            changed["profile"]["display_name"] = NAMES[(a + b) % 6]
        else:
            changed["deleted"] = kind == "deactivate"
        return event(offset, "user_change", user=changed)
    if kind in ("channel", "private"):
        obj = conversation(
            f"C{offset:03d}", f"{NAMES[a % 6]}-{offset}", private=kind == "private", members=(actor,)
        )
        return event(offset, "channel_created", channel=obj, members=[actor])
    if kind in ("dm", "mpim"):
        members = sorted({actor, other} if kind == "dm" else {actor, other, users[(a + b) % len(users)]})
        if len(members) != (2 if kind == "dm" else 3):
            return None
        name = None if kind == "dm" else "mpdm-" + "--".join(members) + "-1"
        obj = conversation(f"{'D' if kind == 'dm' else 'G'}{offset:03d}", name, kind, members=tuple(members))
        return event(offset, "channel_created", channel=obj, members=members)
    if kind in ("join", "leave"):
        if not named or (actor in ref.members[channel]) == (kind == "join"):
            return None
        typ = "member_joined_channel" if kind == "join" else "member_left_channel"
        return event(offset, typ, channel=channel, user=actor, channel_type="C")
    if kind == "rename" and named:
        return event(offset, "channel_rename", channel={"id": channel, "name": f"{NAMES[a % 6]}-r{offset}"})
    if kind == "topic" and named:
        return event(
            offset, "channel_topic", channel=channel, topic={"value": "t", "creator": actor, "last_set": 1}
        )
    if kind in ("archive", "unarchive") and named:
        return event(offset, f"channel_{kind}", channel=channel, user=actor)
    if kind == "message":
        return event(offset, "message", channel=channel, user=actor, text="hello", ts="1.000001")
    return None


def observe(ws: Workspace, ref: WorkspaceState) -> dict[Any, Any]:
    """Everything the queries answer, for every user (and a stranger), plus visibility checks."""
    out: dict[Any, Any] = {"offset": ws.offset}
    callers = [*sorted(ref.users), "U999"]
    channels = [*sorted(ref.channels), "C999"]
    prefixes = ["a", "an", "s", "smi", "z", "b", "mpdm", "jo", "r"]
    out["users"] = all_pages(lambda n, a: ws.list_users("U999", n, a))
    out["search_users"] = {p: ws.search_users(p, 3) for p in prefixes}
    for uid in out["search_users"]["a"] + out["search_users"]["s"]:
        assert not uid["deleted"]
    for caller in callers:
        mine = {c for c, members in ref.members.items() if caller in members}
        for channel in channels:
            obj = ref.channels.get(channel)
            may = obj is not None and ((obj["is_channel"] and not obj["is_private"]) or channel in mine)
            assert ws.can_see(caller, channel) is may
            out[caller, channel] = (
                code(ws.conversation, caller, channel),
                code(all_pages, lambda n, a, c=channel, u=caller: ws.members(u, c, n, a)),
                code(all_pages, lambda n, a, c=channel, u=caller: ws.list_users(u, n, a, c)),
            )
        for types in ({"public_channel"}, {"private_channel"}, {"im", "mpim"}, ALL_TYPES):
            for exclude in (False, True):
                listed = all_pages(
                    lambda n, a, t=types, e=exclude, u=caller: ws.list_conversations(u, t, e, n, a)
                )
                assert all(ws.can_see(caller, c["id"]) for c in listed)
                out[caller, tuple(sorted(types)), exclude] = listed
        for prefix in prefixes:
            found = ws.search_conversations(caller, prefix, 3)
            assert all(ws.can_see(caller, c["id"]) for c in found)
            out[caller, "search", prefix] = found
        out[caller, "hello"] = ws.hello_channels(caller)
        assert set(ws.channels_of(caller)) == mine & set(ref.channels)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(before=OPS, after=OPS)
def test_events_after_x_applied_to_the_cache_of_x_equal_the_cache_of_now(before: Any, after: Any) -> None:
    ref = base_state()
    for op in before:
        e = next_event(ref, op)
        if e is not None:
            assert ref.apply(e)
    cache = workspace(ref)
    for op in after:
        e = next_event(ref, op)
        if e is not None:
            assert ref.apply(copy.deepcopy(e))
            assert cache.apply(e)
    now = workspace(ref)
    assert cache.estimate_bytes() == now.estimate_bytes()  # running counters match a rebuild
    assert observe(cache, ref) == observe(now, ref)
