"""Odd input to the origin's newer methods (wrong types, huge, negative, NUL bytes, forged
cursors) is a Slack error with HTTP 200, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from origin.service import users
from origin.service.auth import issue_token
from origin.store.shards import Store
from tests.origin.conftest import InProcess, in_process
from wire import cursors

ODD: list[Any] = [
    None, True, -1, 0, 2**70, -(2**70), 1.5, "", "x" * 5000, "a\x00b", "../../etc/passwd",
    "99999999999999999999999999", "-5", "1e400", "nan", "\uff11\uff12\uff13", "²", ["C1"], {"a": 1},
]  # fmt: skip

METHODS: dict[str, tuple[str, ...]] = {
    "users.conversations": ("user", "types", "limit", "cursor", "exclude_archived"),
    "pins.list": ("channel",),
    "pins.add": ("channel", "timestamp"),
    "pins.remove": ("channel", "timestamp"),
    "reactions.list": ("user", "limit", "cursor"),
    "reactions.get": ("channel", "timestamp"),
    "reactions.add": ("channel", "timestamp", "name"),
    "chat.getPermalink": ("channel", "message_ts"),
    "chat.postEphemeral": ("channel", "user", "text", "thread_ts", "blocks"),
    "conversations.info": ("channel", "include_num_members"),
    "conversations.mark": ("channel", "ts", "mark_unread"),
    "client.counts": ("thread_counts_by_channel",),
    "bots.info": ("bot",),
    "emoji.list": ("include_categories",),
    "usergroups.list": ("include_users", "include_disabled"),
    "usergroups.create": ("name", "handle", "channels"),
    "admin.jobs.status": ("job", "limit", "team_id"),
    "admin.jobs.cancel": ("job",),
    "admin.imports.start": ("path", "team_id"),
    "admin.exports.start": ("channels", "oldest", "latest"),
}


UNLIMITED = {1: 1e9, 2: 1e9, 3: 1e9, 4: 1e9}


@pytest.fixture
async def app(store: Store) -> AsyncIterator[InProcess]:
    """The origin in-process with no rate limit, so every probe is answered."""
    async for running in in_process(store, rate_limits=UNLIMITED):
        yield running


def base(app: InProcess, method: str) -> dict[str, Any]:
    t = app.team
    return {
        "users.conversations": {},
        "pins.list": {"channel": t.general},
        "pins.add": {"channel": t.general, "timestamp": "1.000001"},
        "pins.remove": {"channel": t.general, "timestamp": "1.000001"},
        "reactions.list": {},
        "reactions.get": {"channel": t.general, "timestamp": "1.000001"},
        "reactions.add": {"channel": t.general, "timestamp": "1.000001", "name": "eyes"},
        "chat.getPermalink": {"channel": t.general, "message_ts": "1.000001"},
        "chat.postEphemeral": {"channel": t.general, "user": t.bob.id, "text": "hi"},
        "conversations.info": {"channel": t.general},
        "conversations.mark": {"channel": t.general, "ts": "1.000001"},
        "admin.jobs.status": {"job": "J1"},
        "admin.jobs.cancel": {"job": "J1"},
        "admin.imports.start": {"path": "x.zip"},
    }.get(method, {})


async def test_odd_values_are_slack_errors(app: InProcess) -> None:
    boss = await users.create_user(app.store, app.team.id, "boss", "Boss", "b@example.com", is_admin=True)
    admin = await issue_token(app.store, app.team.id, boss["id"])
    bad: list[str] = []
    codes: dict[int, int] = {}
    for method, names in METHODS.items():
        token = admin if method.startswith("admin.") else app.team.alice.token
        for name in names:
            for value in ODD:
                for kind in ("json", "form"):
                    args = {**base(app, method), name: value}
                    if kind == "json":
                        resp = await app.call(method, token, json=args)
                    else:
                        if not all(isinstance(v, str) for v in args.values()):
                            continue
                        resp = await app.call(method, token, data=args)
                    codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
                    if resp.status_code != 200 or "ok" not in resp.json():
                        bad.append(f"{method} {name}={value!r:.40} ({kind}): {resp.status_code}")
    assert not bad, "\n".join(bad)
    assert set(codes) == {200}, codes


async def test_forged_cursors_are_invalid_cursor(app: InProcess) -> None:
    token = app.team.alice.token
    keys = {
        "reaction": ["9" * 30 + ":C1:1", "1:C1:" + "9" * 30, "-1:C1:1", "1::1", "1:C1"],
        "conv": ["\x7f", "C" * 400],
    }
    methods = {"reaction": ["reactions.list"], "conv": ["users.conversations", "conversations.list"]}
    bad = []
    for kind, forged in keys.items():
        for key in forged:
            for method in methods[kind]:
                resp = await app.call(method, token, json={"cursor": cursors.encode(kind, key)})
                if resp.status_code != 200:
                    bad.append(f"{method} cursor {key[:40]!r}: {resp.status_code}")
    assert not bad, "\n".join(bad)
