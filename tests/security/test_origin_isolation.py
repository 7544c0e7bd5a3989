"""Attacker probes of the origin's newer methods: a token of workspace A naming ids of
workspace B, and a member of A who is not in a private channel naming it. Every answer must
be the Slack error a missing object gets (never its data), and never an HTTP 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from origin.service import users
from origin.service.auth import issue_token
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.origin.conftest import InProcess, in_process

JSON = dict[str, Any]


@dataclass
class Two:
    app: InProcess
    a: Team
    b: Team
    b_secret_ts: str  # a message in B's private channel, pinned and reacted to
    b_general_ts: str
    a_secret_ts: str  # a message in A's private channel (alice and bob only)


async def call(app: InProcess, method: str, token: str, **args: Any) -> JSON:
    resp = await app.call(method, token, json=args)
    assert resp.status_code == 200, (method, args, resp.status_code, resp.text)
    body: JSON = resp.json()
    return body


async def post(app: InProcess, token: str, channel: str, text: str) -> str:
    body = await call(app, "chat.postMessage", token, channel=channel, text=text)
    assert body["ok"], body
    return str(body["ts"])


@pytest.fixture
async def two(store: Store) -> AsyncIterator[Two]:
    async for app in in_process(store):
        a, b = app.team, await make_team(store)
        b_secret = await post(app, b.alice.token, b.private, "B's secret plan")
        b_general = await post(app, b.alice.token, b.general, "B's general news")
        a_secret = await post(app, a.alice.token, a.private, "A's secret plan")
        for team, channel, ts in ((b, b.private, b_secret), (a, a.private, a_secret)):
            for method, extra in (("pins.add", {}), ("reactions.add", {"name": "eyes"})):
                body = await call(app, method, team.bob.token, channel=channel, timestamp=ts, **extra)
                assert body["ok"], body
        yield Two(app, a, b, b_secret, b_general, a_secret)


def leaked(body: JSON, *needles: str) -> bool:
    text = repr(body)
    return any(n in text for n in needles)


async def test_a_token_of_a_never_reads_b(two: Two) -> None:
    app, a, b = two.app, two.a, two.b
    me = a.alice.token
    secrets = ("B's secret", "B's general", b.private, b.general)
    probes: list[tuple[str, JSON]] = [
        ("users.conversations", {"user": b.alice.id, "types": "public_channel,private_channel,im,mpim"}),
        ("pins.list", {"channel": b.private}),
        ("pins.list", {"channel": b.general}),
        ("reactions.list", {"user": b.bob.id}),
        ("reactions.get", {"channel": b.private, "timestamp": two.b_secret_ts}),
        ("chat.getPermalink", {"channel": b.private, "message_ts": two.b_secret_ts}),
        ("chat.getPermalink", {"channel": b.general, "message_ts": two.b_general_ts}),
        ("conversations.info", {"channel": b.general}),
        ("conversations.info", {"channel": b.private}),
        ("conversations.history", {"channel": b.general}),
        ("conversations.mark", {"channel": b.general, "ts": two.b_general_ts}),
        ("bots.info", {"bot": "B" + b.alice.id[1:]}),
        ("users.info", {"user": b.alice.id}),
        ("pins.add", {"channel": b.general, "timestamp": two.b_general_ts}),
        ("pins.remove", {"channel": b.private, "timestamp": two.b_secret_ts}),
        ("reactions.add", {"channel": b.general, "timestamp": two.b_general_ts, "name": "x"}),
        ("chat.postEphemeral", {"channel": b.general, "user": b.alice.id, "text": "hi"}),
        ("chat.postEphemeral", {"channel": a.general, "user": b.alice.id, "text": "hi"}),
        ("chat.postEphemeral", {"channel": b.alice.id, "user": b.alice.id, "text": "hi"}),
    ]
    for method, args in probes:
        body = await call(app, method, me, **args)
        assert body["ok"] is False or not leaked(body, *secrets), (method, args, body)
        if method in ("pins.add", "pins.remove", "reactions.add", "chat.postEphemeral", "conversations.mark"):
            assert body["ok"] is False, (method, args, body)
    # B's pins and reactions are untouched
    assert len((await call(app, "pins.list", b.bob.token, channel=b.private))["items"]) == 1


async def test_a_non_member_never_reads_a_private_channel(two: Two) -> None:
    app, a = two.app, two.a
    carol = a.carol.token
    probes: list[tuple[str, JSON]] = [
        ("pins.list", {"channel": a.private}),
        ("reactions.list", {"user": a.bob.id}),
        ("reactions.get", {"channel": a.private, "timestamp": two.a_secret_ts}),
        ("chat.getPermalink", {"channel": a.private, "message_ts": two.a_secret_ts}),
        ("conversations.info", {"channel": a.private}),
        ("users.conversations", {"user": a.bob.id, "types": "private_channel,im,mpim"}),
        ("chat.postEphemeral", {"channel": a.private, "user": a.bob.id, "text": "hi"}),
        ("pins.add", {"channel": a.private, "timestamp": two.a_secret_ts}),
    ]
    for method, args in probes:
        body = await call(app, method, carol, **args)
        assert not leaked(body, "A's secret", a.private), (method, args, body)
    listed = await call(app, "reactions.list", a.bob.token)
    assert [i["channel"] for i in listed["items"]] == [a.private]  # bob sees his own


async def test_ephemeral_messages_are_in_no_history_or_search(two: Two) -> None:
    app, a = two.app, two.a
    sent = await call(
        app, "chat.postEphemeral", a.alice.token, channel=a.general, user=a.bob.id, text="psst-only-bob"
    )
    assert sent["ok"], sent
    for token in (a.bob.token, a.carol.token):
        history = await call(app, "conversations.history", token, channel=a.general)
        assert not leaked(history, "psst-only-bob"), history
        info = await call(app, "conversations.info", token, channel=a.general)
        assert not leaked(info, "psst-only-bob"), info


async def admin_of(store: Store, team: Team, name: str) -> str:
    admin = await users.create_user(store, team.id, name, name, f"{name}@example.com", is_admin=True)
    return await issue_token(store, team.id, admin["id"])


async def test_admin_jobs_of_another_team(store: Store, tmp_path: Any) -> None:
    (tmp_path / "imports").mkdir()
    async for app in in_process(
        store, import_dir=str(tmp_path / "imports"), export_dir=str(tmp_path / "exports")
    ):
        b = await make_team(store)
        mine, theirs = await admin_of(store, app.team, "boss"), await admin_of(store, b, "bbos")
        job = await call(app, "admin.exports.start", theirs)
        assert job["ok"], job
        jid = job["job"]["id"]
        for method in ("admin.jobs.status", "admin.jobs.cancel"):
            body = await call(app, method, mine, job=jid)
            assert body == {"ok": False, "error": "job_not_found"} or body.get("error") == "job_not_found", (
                body
            )
            body = await call(app, method, mine, job=jid, team_id=b.id)
            assert body["ok"] is False, body
        listed = await call(app, "admin.jobs.status", mine)
        assert jid not in repr(listed)
        # not an admin of A
        body = await call(app, "admin.jobs.status", app.team.alice.token, job=jid)
        assert body["ok"] is False
        runner = app.asgi.state.transfers.runner if hasattr(app.asgi.state, "transfers") else None
        if runner is not None and hasattr(runner, "wait"):
            await runner.wait(jid)
