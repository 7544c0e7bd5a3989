"""Read state at the edge, in-process: the hello's counts, conversations.info, client.counts,
and marks delivered (with counts, named by the conversation's kind) to that user only."""

from __future__ import annotations

from tests.flannel.cache import event
from tests.flannel.harness import serve

BOB = {"Authorization": "Bearer xoxp-bob"}


def post(offset: int, channel: str, ts: str, user: str, text: str, **extra: str) -> dict[str, object]:
    kind = "G" if channel.startswith("G") else "C"
    return event(offset, "message", channel=channel, channel_type=kind, ts=ts, user=user, text=text, **extra)


async def test_hello_info_and_counts_carry_read_state() -> None:
    async with serve() as env:
        await env.append(
            post(11, "C1", "1700000001.000000", "U1", "hi <@U2>"),
            post(12, "C1", "1700000002.000000", "U2", "mine"),
            post(13, "C1", "1700000003.000000", "U1", "in a thread", thread_ts="1700000001.000000"),
            post(14, "G1", "1700000004.000000", "U1", "<!channel> plans"),
        )
        await env.caught_up(14)
        async with env.ws(env.url()) as bob:
            hello = await bob.next_of("hello")
        mine = {c["id"]: c for c in hello["channels"]}
        general = mine["C1"]
        assert general["latest"] == {
            "type": "message",
            "ts": "1700000002.000000",
            "user": "U2",
            "text": "mine",
        }
        assert (general["unread_count"], general["unread_count_display"], general["mention_count"]) == (
            2,
            1,
            1,
        )
        assert general["has_unreads"] and general["last_read"] == "0.000000"
        assert mine["G1"]["mention_count"] == 1
        async with env.http() as http:
            info = (await http.post("/api/conversations.info", data={"channel": "C1"}, headers=BOB)).json()
            counts = (await http.post("/api/client.counts", headers=BOB)).json()
            listed = (await http.post("/api/conversations.list", headers=BOB)).json()
        assert info["channel"]["unread_count_display"] == 1 and info["channel"]["last_read"] == "0.000000"
        assert counts["ok"] and {c["id"] for c in counts["channels"]} == {"C1", "G1"}
        assert [c["id"] for c in counts["ims"]] == ["D1"] and [c["id"] for c in counts["mpims"]] == ["G2"]
        c1 = next(c for c in counts["channels"] if c["id"] == "C1")
        assert c1 == {
            "id": "C1",
            "last_read": "0.000000",
            "latest": "1700000002.000000",
            "unread_count": 2,
            "unread_count_display": 1,
            "mention_count": 1,
            "has_unreads": True,
        }
        assert next(c for c in listed["channels"] if c["id"] == "C1")["last_read"] == "0.000000"
        assert env.origin.forwarded() == []  # all of it answered from memory


async def test_a_mark_reaches_only_that_users_connections_with_counts() -> None:
    async with serve() as env:
        await env.append(
            post(11, "G1", "1700000001.000000", "U1", "<@U2> one"),
            post(12, "G1", "1700000002.000000", "U1", "two"),
        )
        await env.caught_up(12)
        async with env.ws(env.url()) as bob, env.ws(env.url()) as bob2:
            async with env.ws(env.url("U1", "xoxp-alice")) as alice:
                for ws in (bob, bob2, alice):
                    await ws.next_of("hello")
                mark = event(
                    13, "channel_marked", channel="G1", channel_type="G", user="U2", ts="1700000001.000000"
                )
                await env.append(mark, post(14, "G1", "1700000003.000000", "U1", "three"))
                for ws in (bob, bob2):
                    got = await ws.next_of("group_marked")
                    assert got["channel"] == "G1" and got["ts"] == "1700000001.000000"
                    assert (got["unread_count_display"], got["mention_count"]) == (1, 0)
                seen = [await alice.recv() for _ in range(1)]
                assert [f.get("type") for f in seen] == ["message"]  # the next post, not the mark
        async with env.http() as http:
            info = (await http.post("/api/conversations.info", data={"channel": "G1"}, headers=BOB)).json()
        assert info["channel"]["last_read"] == "1700000001.000000"
        assert info["channel"]["unread_count_display"] == 2
