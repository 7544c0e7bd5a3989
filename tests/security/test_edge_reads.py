"""Attacker probes of the edge's in-memory reads: a private channel's read state (its latest
preview, its counts) never reaches a non-member, another workspace's ids are not found, and
odd arguments to every local method are Slack errors, never a 500."""

from __future__ import annotations

from typing import Any

from tests.flannel.cache import event
from tests.flannel.harness import serve

CAROL = {"Authorization": "Bearer xoxp-carol"}
BOB = {"Authorization": "Bearer xoxp-bob"}
SECRET = "G1-secret-preview"
UNLIMITED: dict[str, Any] = {"rate_limits": {1: 1e9, 2: 1e9, 3: 1e9, 4: 1e9}}


def post(offset: int, channel: str, ts: str, user: str, text: str) -> dict[str, object]:
    kind = {"G": "G", "D": "D"}.get(channel[0], "C")
    return event(offset, "message", channel=channel, channel_type=kind, ts=ts, user=user, text=text)


async def test_private_read_state_stays_with_members() -> None:
    async with serve() as env:
        await env.append(
            post(11, "G1", "1700000001.000000", "U1", f"<!channel> {SECRET}"),
            post(12, "D1", "1700000002.000000", "U1", "dm-secret-preview"),
            event(13, "channel_marked", channel="G1", channel_type="G", user="U2", ts="1700000001.000000"),
        )
        await env.caught_up(13)
        async with env.http() as http:
            probes: list[tuple[str, dict[str, Any]]] = [
                ("conversations.info", {"channel": "G1"}),
                ("conversations.info", {"channel": "D1"}),
                ("client.counts", {}),
                ("users.conversations", {"user": "U1", "types": "public_channel,private_channel,im,mpim"}),
                ("users.conversations", {"user": "U2", "types": "private_channel,im"}),
                ("conversations.list", {"types": "public_channel,private_channel,im,mpim"}),
                ("conversations.members", {"channel": "G1"}),
                ("conversations.search", {"query": "secret"}),
                ("users.conversations", {"user": "U9"}),
                ("users.info", {"user": "W_OTHER_TEAM"}),
                ("conversations.info", {"channel": "C_OTHER_TEAM"}),
            ]
            for method, args in probes:
                got = await http.post(f"/api/{method}", data=args, headers=CAROL)
                assert got.status_code == 200, (method, got.text)
                text = got.text
                for needle in (SECRET, "dm-secret", '"G1"', '"D1"', "1700000001.000000"):
                    assert needle not in text, (method, args, needle, text)
            async with env.ws(env.url("U3", "xoxp-carol")) as carol:
                hello = await carol.next_of("hello")
                assert SECRET not in repr(hello) and "G1" not in {c["id"] for c in hello["channels"]}
            own = (await http.post("/api/conversations.info", data={"channel": "G1"}, headers=BOB)).json()
            assert own["channel"]["latest"]["text"].endswith(SECRET)  # a member does see it


ODD: list[str] = [
    "",
    "x" * 5000,
    "a\x00b",
    "-1",
    "99999999999999999999999",
    "1e400",
    "²",
    "[]",
    "{}",
    "C1,C2",
]
LOCAL: dict[str, tuple[str, ...]] = {
    "users.info": ("user", "users", "include_locale"),
    "users.list": ("limit", "cursor", "include_locale"),
    "users.search": ("query", "prefix", "limit"),
    "conversations.info": ("channel", "include_num_members", "include_locale"),
    "conversations.list": ("types", "limit", "cursor", "exclude_archived"),
    "conversations.members": ("channel", "limit", "cursor"),
    "conversations.search": ("query", "prefix", "limit"),
    "users.conversations": ("user", "types", "limit", "cursor", "exclude_archived"),
    "client.counts": ("thread_counts_by_channel", "org_wide_aware"),
    "auth.test": ("x",),
}


async def test_odd_arguments_to_local_methods_are_slack_errors() -> None:
    bad: list[str] = []
    codes: dict[int, int] = {}
    async with serve(**UNLIMITED) as env, env.http() as http:
        for method, names in LOCAL.items():
            for name in names:
                for value in ODD:
                    base = {"channel": "C1"} if "channel" in LOCAL[method] else {}
                    for body in ({"data": {**base, name: value}}, {"json": {**base, name: [value]}}):
                        got = await http.post(f"/api/{method}", headers=BOB, **body)  # type: ignore[arg-type]
                        codes[got.status_code] = codes.get(got.status_code, 0) + 1
                        if got.status_code not in (200, 429) or "ok" not in got.json():
                            kind = next(iter(body))
                            bad.append(f"{method} {name}={value[:20]!r} {kind}: {got.status_code}")
    assert not bad, "\n".join(bad)
    assert set(codes) == {200}, codes  # every probe was answered, none rate limited away
