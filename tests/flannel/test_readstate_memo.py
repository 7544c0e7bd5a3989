"""``client.counts`` is kept per caller between events (:func:`flannel.cache.reads.client_counts`):
after any sequence of events, the kept answer equals one computed afresh, item by item."""

from __future__ import annotations

import random
from typing import Any

from flannel.cache import Workspace
from flannel.cache import reads as cache_reads
from flannel.cache.reads import client_counts, counts_item
from flannel.methods import Who
from flannel.read_methods import client_counts_body
from tests.flannel.cache import base_state, conversation, event
from wire.args import Args
from wire.http import ok_body
from wire.state import WorkspaceState
from wire.visibility import kind_of

USERS = ("U1", "U2", "U3")
GROUPS = {"channel": "channels", "mpim": "mpims", "im": "ims"}


def afresh(state: WorkspaceState, ws: Workspace, user_id: str) -> dict[str, Any]:
    """``client.counts`` the plain way: every item computed now, nothing kept."""
    out: dict[str, Any] = {"channels": [], "mpims": [], "ims": []}
    for channel_id in sorted(ws.channels_of(user_id)):
        channel = state.channels.get(channel_id)
        if channel is not None:
            out[GROUPS[kind_of(channel)]].append(counts_item(state.reads, channel_id, user_id))
    return out


def ts(n: int) -> str:
    return f"{1700000000 + n}.000000"


def random_event(rng: random.Random, offset: int, posted: list[tuple[str, str]]) -> dict[str, Any]:
    channel = rng.choice(["C1", "G1", "D1", "G2", "C2", "C9"])
    user = rng.choice(USERS)
    roll = rng.random()
    if roll < 0.4 or not posted:
        text = rng.choice(["hi", "<@U1> look", "<!channel> all", "<@U2> <@U3>", "plain"])
        extra: dict[str, Any] = {}
        if posted and rng.random() < 0.3:
            parent = rng.choice(posted)
            extra = {"channel": parent[0], "thread_ts": parent[1]}
            if rng.random() < 0.3:
                extra["subtype"] = "thread_broadcast"
        fields = {"channel": channel, "ts": ts(offset), "user": user, "text": text, **extra}
        posted.append((str(fields["channel"]), ts(offset)))
        return event(offset, "message", **fields)
    channel, at = rng.choice(posted)
    if roll < 0.5:
        message = {"ts": at, "user": user, "text": rng.choice(["edited <@U1>", "edited"])}
        return event(offset, "message_changed", channel=channel, message=message)
    if roll < 0.6:
        posted.remove((channel, at))
        return event(offset, "message_deleted", channel=channel, deleted_ts=at)
    if roll < 0.8:
        return event(offset, "channel_marked", channel=channel, user=user, ts=at)
    if roll < 0.9:
        return event(offset, "member_joined_channel", channel=channel, user=user, last_read=at)
    return event(offset, "member_left_channel", channel=channel, user=user)


def test_kept_counts_equal_fresh_counts_after_every_event() -> None:
    for seed in range(20):
        rng = random.Random(seed)
        state = base_state()
        ws = Workspace(state)
        posted: list[tuple[str, str]] = []
        for offset in range(11, 131):
            if offset == 70:  # a conversation made mid-way: a new object, a new group
                room = conversation("C9", "late", members=USERS)
                assert ws.apply(event(offset, "channel_created", channel=room, members=list(USERS)))
            else:
                assert ws.apply(random_event(rng, offset, posted))
            for user_id in rng.sample(USERS, 2):
                first = ws.client_counts(user_id)
                assert first == afresh(state, ws, user_id), (seed, offset, user_id)
                assert ws.client_counts(user_id) == first  # kept, and still right


def test_an_event_elsewhere_reuses_the_other_items() -> None:
    state = base_state()
    ws = Workspace(state)
    assert ws.apply(event(11, "message", channel="C1", ts=ts(11), user="U1", text="hi <@U2>"))
    before = ws.client_counts("U2")
    assert ws.client_counts("U2") is before  # nothing moved: the same answer
    assert ws.apply(event(12, "message", channel="G1", ts=ts(12), user="U1", text="private"))
    after = ws.client_counts("U2")
    c1 = [item for item in after["channels"] if item["id"] == "C1"]
    g1 = [item for item in after["channels"] if item["id"] == "G1"]
    assert c1[0] is next(item for item in before["channels"] if item["id"] == "C1")  # untouched
    assert g1[0]["unread_count"] == 1 and after == afresh(state, ws, "U2")
    assert ws.apply(event(13, "channel_marked", channel="C1", user="U2", ts=ts(11)))
    marked = ws.client_counts("U2")
    assert next(item for item in marked["channels"] if item["id"] == "C1")["unread_count"] == 0


def test_the_kept_answers_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(cache_reads, "MEMO_USERS", 2)
    state = base_state()
    for user_id in USERS:
        client_counts(state.reads, state.channels, {"C1"}, user_id)
    kept = state.reads.memo["client.counts"]
    assert len(kept) <= 2 and "U3" in kept


def test_the_http_body_is_encoded_once_per_answer() -> None:
    state = base_state()
    ws = Workspace(state)
    bob = Who("T1", "U2")
    assert ws.apply(event(11, "message", channel="C1", ts=ts(11), user="U1", text="hi <@U2>"))
    first = client_counts_body(ws, bob, Args({}))
    assert first == ok_body(afresh(state, ws, "U2"))
    assert client_counts_body(ws, bob, Args({})) is first  # nothing moved: the same bytes
    assert ws.apply(event(12, "channel_marked", channel="C1", user="U2", ts=ts(11)))
    marked = client_counts_body(ws, bob, Args({}))
    assert marked != first and marked == ok_body(afresh(state, ws, "U2"))
    assert client_counts_body(ws, Who("T1", "U1"), Args({})) == ok_body(afresh(state, ws, "U1"))
