"""Every write answers with ``x-flannel-offset``, the change-log offset it committed, so an edge
can wait for its copy to apply a caller's own write before answering the caller's next read
(read-your-writes). Posts, updates and deletes are group-commit jobs: their offset comes from
the group that committed them, not from a transaction of the call's own."""

from __future__ import annotations

import httpx

from origin.service.teams import current_offset
from tests.origin.conftest import InProcess
from wire.http import OFFSET_HEADER


def offset(resp: httpx.Response) -> int:
    assert resp.status_code == 200 and resp.json()["ok"], resp.text
    return int(resp.headers[OFFSET_HEADER])


async def test_posts_replies_updates_and_deletes_say_what_they_committed(app: InProcess) -> None:
    token, channel = app.team.alice.token, app.team.general
    posted = await app.call("chat.postMessage", token, data={"channel": channel, "text": "hello"})
    assert offset(posted) == await current_offset(app.store, app.team.id)
    ts = posted.json()["ts"]
    reply = await app.call(
        "chat.postMessage", token, data={"channel": channel, "text": "re", "thread_ts": ts}
    )
    assert offset(reply) == await current_offset(app.store, app.team.id) > offset(posted)
    updated = await app.call("chat.update", token, data={"channel": channel, "ts": ts, "text": "hello!"})
    assert offset(updated) == await current_offset(app.store, app.team.id)
    deleted = await app.call("chat.delete", token, data={"channel": channel, "ts": reply.json()["ts"]})
    assert offset(deleted) == await current_offset(app.store, app.team.id)
    assert offset(deleted) > offset(updated) > offset(reply)


async def test_a_repeated_post_commits_nothing_and_names_no_offset(app: InProcess) -> None:
    token, channel = app.team.alice.token, app.team.general
    data = {"channel": channel, "text": "once", "client_msg_id": "7b0b3b0e-0000-4000-8000-000000000001"}
    assert offset(await app.call("chat.postMessage", token, data=data)) > 0
    again = await app.call("chat.postMessage", token, data=data)
    assert again.json()["ok"] and OFFSET_HEADER not in again.headers


async def test_a_refused_write_names_no_offset(app: InProcess) -> None:
    refused = await app.call(
        "chat.update", app.team.alice.token, data={"channel": app.team.general, "ts": "1.000001", "text": "x"}
    )
    assert refused.json()["ok"] is False and OFFSET_HEADER not in refused.headers
