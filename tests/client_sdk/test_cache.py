"""The bounded local cache and how events keep it current."""

from __future__ import annotations

from client_sdk import CacheLimits, Channel, Directory, Hello, Team, User
from client_sdk.cache import LRU
from client_sdk.decode import parse_event


def test_lru_keeps_the_most_recently_used_within_its_bound() -> None:
    lru: LRU[str, int] = LRU(3)
    for i, key in enumerate("abcd"):
        lru.put(key, i)
    assert list(lru) == ["b", "c", "d"] and lru.evictions == 1
    assert lru.get("b") == 1  # now the most recent
    lru.put("e", 4)
    assert list(lru) == ["d", "b", "e"]
    assert lru.peek("d") == 3 and next(iter(lru)) == "d"  # peek does not refresh
    for i in range(1000):
        lru.put(f"k{i}", i)
        assert len(lru) <= 3


def directory() -> Directory:
    d = Directory(CacheLimits(users=10, channels=10, member_lists=4))
    channels = (Channel.from_json({"id": "C1", "name": "general"}, partial=True),)
    d.start(Hello(self_user=User(id="UME", name="me"), team=Team(id="T1"), channels=channels, position=5))
    return d


def test_hello_sets_who_we_are_and_our_channels() -> None:
    d = directory()
    assert d.self_id == "UME" and d.joined == {"C1"}
    assert d.users.peek("UME") is not None
    held = d.channels.peek("C1")
    assert held is not None and held.partial and held.is_member
    full = Channel.from_json({"id": "C1", "name": "general", "topic": {"value": "t"}, "num_members": 3})
    d.put_channel(full)
    d.put_channel(Channel.from_json({"id": "C1", "name": "general"}, partial=True))
    assert d.channels.peek("C1") == full  # a compact entry never replaces a full one


def test_events_keep_users_channels_and_members_current() -> None:
    d = directory()
    d.put_channel(Channel.from_json({"id": "C1", "name": "general", "num_members": 2, "is_member": True}))
    d.members.put("C1", frozenset({"UME", "U2"}))

    def apply(frame: dict[str, object]) -> None:
        d.apply(parse_event(frame))

    apply({"type": "user_change", "user": {"id": "U2", "name": "bobby"}, "offset": 6})
    assert (u := d.users.peek("U2")) is not None and u.name == "bobby"
    apply({"type": "team_join", "user": {"id": "U3", "name": "carol"}, "offset": 7})
    assert d.users.peek("U3") is not None
    apply({"type": "channel_rename", "channel": {"id": "C1", "name": "town-square"}, "offset": 8})
    apply({"type": "channel_topic", "channel": "C1", "topic": {"value": "news"}, "offset": 9})
    apply({"type": "member_joined_channel", "channel": "C1", "user": "U3", "offset": 10})
    channel = d.channels.peek("C1")
    assert channel is not None
    assert (channel.name, channel.topic, channel.num_members) == ("town-square", "news", 3)
    assert d.members.peek("C1") == frozenset({"UME", "U2", "U3"})
    apply({"type": "channel_archive", "channel": "C1", "user": "U2", "offset": 11})
    assert (c := d.channels.peek("C1")) is not None and c.is_archived
    apply({"type": "member_left_channel", "channel": "C1", "user": "UME", "offset": 12})
    assert "C1" not in d.joined and d.members.peek("C1") is None  # no longer kept exact
    assert (c := d.channels.peek("C1")) is not None and c.is_member is False and c.num_members == 2
    apply(
        {
            "type": "channel_created",
            "channel": {"id": "C2", "name": "new", "is_channel": True},
            "members": ["UME", "U2"],
            "offset": 13,
        }
    )
    assert "C2" in d.joined and d.members.peek("C2") == frozenset({"UME", "U2"})
    d.clear()
    assert len(d.users) == len(d.channels) == len(d.members) == 0
