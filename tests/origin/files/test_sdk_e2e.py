"""slack_sdk's files_upload_v2 (one file and several, to a channel and to a thread) and the
other files methods, against the router: the upload URL and url_private are the router's,
which streams them through the edge to the origin."""

from __future__ import annotations

import urllib.error
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.conftest import ServerProcess
from tests.origin.files.stack import MAX_MB, FilesStack, start_stack


@pytest.fixture
async def stack(
    start_server: type[ServerProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[FilesStack]:
    running = await start_stack(start_server, tmp_path, redis_url, redis_prefix)
    try:
        yield running
    finally:
        await running.store.close()


def test_files_upload_v2_through_the_router(stack: FilesStack) -> None:
    team = stack.team
    alice = WebClient(token=team.alice.token, base_url=stack.api)
    one = alice.files_upload_v2(
        channel=team.general, content="hello from the sdk", filename="hello.txt", initial_comment="one file"
    )
    f = one["file"]
    assert f["name"] == "hello.txt" and f["size"] == len("hello from the sdk")
    assert f["url_private"].startswith(stack.router.url + "/files-pri/")
    assert one["ts"] and list(f["shares"]["public"]) == [team.general]
    # Several files, as a reply in a thread.
    parent = alice.chat_postMessage(channel=team.general, text="thread")["ts"]
    several = alice.files_upload_v2(
        channel=team.general,
        thread_ts=parent,
        file_uploads=[
            {"content": b"\x00\x01binary", "filename": "a.bin", "title": "A"},
            {"content": "second", "filename": "b.txt"},
        ],
    )
    ids = [x["id"] for x in several["files"]]
    assert [x["title"] for x in several["files"]] == ["A", "b.txt"]
    replies = alice.conversations_replies(channel=team.general, ts=parent)["messages"]
    assert replies[-1]["subtype"] == "file_share" and [x["id"] for x in replies[-1]["files"]] == ids
    history = alice.conversations_history(channel=team.general)["messages"]
    assert any(m.get("files", [{}])[0].get("id") == f["id"] for m in history)
    # Downloads through the router: a member gets the bytes, Range included.
    bob = {"Authorization": f"Bearer {team.bob.token}"}
    got = httpx.get(several["files"][0]["url_private"], headers=bob)
    assert got.status_code == 200 and got.content == b"\x00\x01binary"
    assert got.headers["x-content-type-options"] == "nosniff"
    part = httpx.get(f["url_private"], headers={**bob, "Range": "bytes=0-4"})
    assert part.status_code == 206 and part.content == b"hello"
    # info, list, delete through the router and the edge.
    bob_client = WebClient(token=team.bob.token, base_url=stack.api)
    assert bob_client.files_info(file=f["id"])["file"]["id"] == f["id"]
    listed = bob_client.files_list(channel=team.general)["files"]
    assert {x["id"] for x in listed} == {f["id"], *ids}
    with pytest.raises(SlackApiError) as refused:
        bob_client.files_delete(file=f["id"])
    assert refused.value.response["error"] == "cant_delete_file"
    alice.files_delete(file=f["id"])
    with pytest.raises(SlackApiError) as gone:
        bob_client.files_info(file=f["id"])
    assert gone.value.response["error"] == "file_not_found"
    assert httpx.get(f["url_private"], headers=bob).status_code == 404


def test_private_files_replays_and_limits_through_the_router(stack: FilesStack) -> None:
    team = stack.team
    alice = WebClient(token=team.alice.token, base_url=stack.api)
    secret = alice.files_upload_v2(channel=team.private, content="the plan", filename="plan.txt")["file"]
    carol = httpx.get(secret["url_private"], headers={"Authorization": f"Bearer {team.carol.token}"})
    nothing = httpx.get(
        secret["url_private"].replace(secret["id"], "FNOSUCHFILE0"),
        headers={"Authorization": f"Bearer {team.carol.token}"},
    )
    assert carol.status_code == 404 and carol.content == nothing.content
    bob = httpx.get(secret["url_private_download"], headers={"Authorization": f"Bearer {team.bob.token}"})
    assert bob.status_code == 200 and bob.content == b"the plan"
    assert bob.headers["content-disposition"].startswith("attachment;")
    # An upload URL used twice: the second POST is refused, and the SDK says so.
    grant = alice.files_getUploadURLExternal(filename="x.txt", length=3)
    assert httpx.post(grant["upload_url"], content=b"abc").status_code == 200
    replay = httpx.post(grant["upload_url"], content=b"abc")
    assert replay.status_code == 409 and replay.json()["error"] == "upload_url_already_used"
    # Over the limit: refused when the URL is asked for, and a body bigger than it declared is
    # refused as it streams, with nothing kept.
    big = int(MAX_MB * (1 << 20)) + 1
    with pytest.raises(SlackApiError) as too_big:
        alice.files_upload_v2(channel=team.general, content=b"x" * big, filename="big.bin")
    assert too_big.value.response["error"] == "file_too_large"
    liar = alice.files_getUploadURLExternal(filename="liar.bin", length=10)
    with pytest.raises(urllib.error.HTTPError) as cut:  # what the SDK's upload step raises
        alice._upload_file(
            url=liar["upload_url"],
            data=b"y" * 100_000,
            logger=alice._logger,
            timeout=30,
            proxy=None,
            ssl=None,
        )
    assert cut.value.code == 400
    kept = [p for p in (stack.blobs / "objects").rglob("*") if p.is_file()]
    assert len(kept) == 2  # the plan and "abc"; nothing of the refused bodies
    # The legacy files.upload, streamed through the router and the edge.
    legacy = httpx.post(
        stack.api + "files.upload",
        headers={"Authorization": f"Bearer {team.alice.token}"},
        data={"channels": team.general, "title": "Legacy"},
        files={"file": ("legacy.csv", b"a,b\n", "text/csv")},
    ).json()
    assert legacy["ok"] and legacy["file"]["title"] == "Legacy" and legacy["file"]["size"] == 4
