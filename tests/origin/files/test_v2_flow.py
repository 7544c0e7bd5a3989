"""The v2 upload flow at the origin: URL, bytes, completion, sharing, download and its ACL."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
from PIL import Image

from origin.service import history
from tests.origin.conftest import InProcess
from tests.origin.files.conftest import MAX_BYTES


async def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["ok"] is True, body
    return body


async def upload(app: InProcess, token: str, name: str, data: bytes, **complete: Any) -> dict[str, Any]:
    got = await ok(
        await app.call("files.getUploadURLExternal", token, data={"filename": name, "length": len(data)})
    )
    url = httpx.URL(got["upload_url"])
    posted = await app.http.post(url.raw_path.decode(), content=data)
    assert posted.status_code == 200 and posted.text == f"OK - {len(data)}"
    files = orjson.dumps([{"id": got["file_id"], "title": complete.pop("title", name)}]).decode()
    return await ok(await app.call("files.completeUploadExternal", token, data={"files": files, **complete}))


async def test_upload_share_and_download(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    data = b"hello file\n" * 100
    done = await upload(
        app, team.alice.token, "notes.txt", data, channel_id=team.general, initial_comment="see"
    )
    f = done["files"][0]
    assert f["name"] == "notes.txt" and f["size"] == len(data) and f["mimetype"] == "text/plain"
    assert f["user"] == team.alice.id and f["filetype"] == "text"
    assert list(f["shares"]["public"]) == [team.general] and done["channel"] == team.general
    assert f["shares"]["public"][team.general][0]["ts"] == done["ts"]
    # The message, in history, carries the full file object.
    messages, _, _ = await history.history(app.store, team.bob.caller, team.general, 0, None, True, 10, None)
    shared = next(m for m in messages if m.get("subtype") == "file_share")
    assert shared["text"] == "see" and shared["files"][0]["id"] == f["id"] and shared["upload"] is True
    assert shared["files"][0]["url_private"] == f["url_private"] and shared["ts"] == done["ts"]
    # Download: a member with a token gets it; headers keep browsers from rendering it.
    path = httpx.URL(f["url_private"]).raw_path.decode()
    got = await app.http.get(path, headers={"Authorization": f"Bearer {team.bob.token}"})
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["content-type"].startswith("text/plain")
    part = await app.http.get(
        path, headers={"Authorization": f"Bearer {team.bob.token}", "Range": "bytes=6-9"}
    )
    assert part.status_code == 206 and part.content == data[6:10]
    assert part.headers["content-range"] == f"bytes 6-9/{len(data)}"
    tail = await app.http.get(
        path, headers={"Authorization": f"Bearer {team.bob.token}", "Range": "bytes=-5"}
    )
    assert tail.status_code == 206 and tail.content == data[-5:]
    bad = await app.http.get(
        path, headers={"Authorization": f"Bearer {team.bob.token}", "Range": "bytes=99999-"}
    )
    assert bad.status_code == 416
    # No token: 404, as for a file that does not exist.
    anonymous = await app.http.get(path)
    assert anonymous.status_code == 404 and anonymous.content == (await app.http.get(path + "x")).content


async def test_private_channel_file_is_404_to_a_non_member(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    done = await upload(app, team.alice.token, "plan.pdf", b"%PDF-1.4 secret", channel_id=team.private)
    f = done["files"][0]
    path = httpx.URL(f["url_private"]).raw_path.decode()
    carol = await app.http.get(path, headers={"Authorization": f"Bearer {team.carol.token}"})
    missing = await app.http.get(
        path.replace(f["id"], "FNOSUCHFILE"), headers={"Authorization": f"Bearer {team.carol.token}"}
    )
    assert carol.status_code == 404 and carol.content == missing.content and carol.headers.get("etag") is None
    bob = await app.http.get(path, headers={"Authorization": f"Bearer {team.bob.token}"})
    assert bob.status_code == 200 and bob.content == b"%PDF-1.4 secret"
    info = (await app.call("files.info", team.carol.token, data={"file": f["id"]})).json()
    assert info == {"ok": False, "error": "file_not_found"}
    listed = await ok(await app.call("files.list", team.carol.token))
    assert f["id"] not in [x["id"] for x in listed["files"]]


async def test_a_replayed_upload_url_is_refused(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    got = await ok(
        await app.call(
            "files.getUploadURLExternal", team.alice.token, data={"filename": "a.bin", "length": 3}
        )
    )
    path = httpx.URL(got["upload_url"]).raw_path.decode()
    assert (await app.http.post(path, content=b"abc")).status_code == 200
    again = await app.http.post(path, content=b"xyz")
    assert again.status_code == 409 and again.json()["error"] == "upload_url_already_used"
    forged = await app.http.post(path[:-3] + "000", content=b"abc")
    assert forged.status_code == 404


async def test_over_the_limit_is_refused_before_it_is_stored(files_app: InProcess, tmp_path: Any) -> None:
    app, team = files_app, files_app.team
    too_big = await app.call(
        "files.getUploadURLExternal", team.alice.token, data={"filename": "big.bin", "length": MAX_BYTES + 1}
    )
    assert too_big.json()["error"] == "file_too_large"
    # A body longer than the declared length is cut off and nothing is kept.
    got = await ok(
        await app.call(
            "files.getUploadURLExternal", team.alice.token, data={"filename": "a.bin", "length": 10}
        )
    )
    posted = await app.http.post(httpx.URL(got["upload_url"]).raw_path.decode(), content=b"x" * 5000)
    assert posted.status_code == 400 and posted.json()["error"] == "invalid_length"
    objects = tmp_path / "blobs" / "objects"
    assert not [p for p in objects.rglob("*") if p.is_file()]
    assert not list((tmp_path / "blobs" / "tmp").iterdir())
    refused = await app.call(
        "files.completeUploadExternal",
        team.alice.token,
        data={"files": orjson.dumps([{"id": got["file_id"]}]).decode()},
    )
    assert refused.json()["error"] == "file_not_found"


async def test_quota_per_workspace(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    for _ in range(5):  # 5 x 190 KB reserved of a 1 MB quota
        await ok(
            await app.call(
                "files.getUploadURLExternal", team.alice.token, data={"filename": "a.bin", "length": 190_000}
            )
        )
    over = await app.call(
        "files.getUploadURLExternal", team.bob.token, data={"filename": "b.bin", "length": 190_000}
    )
    assert over.json()["error"] == "storage_limit_reached"


async def test_several_files_to_a_thread_and_images_get_thumbnails(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    parent = await ok(
        await app.call("chat.postMessage", team.alice.token, data={"channel": team.general, "text": "t"})
    )
    image = io.BytesIO()
    Image.new("RGB", (800, 400), (200, 10, 10)).save(image, "PNG")
    ids = []
    for name, data in (("red.png", image.getvalue()), ("b.txt", b"bee")):
        got = await ok(
            await app.call(
                "files.getUploadURLExternal", team.bob.token, data={"filename": name, "length": len(data)}
            )
        )
        assert (
            await app.http.post(httpx.URL(got["upload_url"]).raw_path.decode(), content=data)
        ).status_code == 200
        ids.append(got["file_id"])
    done = await ok(
        await app.call(
            "files.completeUploadExternal",
            team.bob.token,
            data={
                "files": orjson.dumps([{"id": i} for i in ids]).decode(),
                "channel_id": team.general,
                "thread_ts": parent["ts"],
            },
        )
    )
    png = done["files"][0]
    assert png["original_w"] == 800 and png["thumb_360_w"] == 360 and png["thumb_360_h"] == 180
    thumb = await app.http.get(
        httpx.URL(png["thumb_64"]).raw_path.decode(), headers={"Authorization": f"Bearer {team.carol.token}"}
    )
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (64, 32)
    shown = await app.http.get(
        httpx.URL(png["url_private"]).raw_path.decode(),
        headers={"Authorization": f"Bearer {team.carol.token}"},
    )
    assert (
        shown.headers["content-disposition"].startswith("inline;")
        and shown.headers["content-type"] == "image/png"
    )
    replies = await ok(
        await app.call(
            "conversations.replies", team.alice.token, data={"channel": team.general, "ts": parent["ts"]}
        )
    )
    reply = replies["messages"][-1]
    assert reply["subtype"] == "file_share" and [f["id"] for f in reply["files"]] == ids
    assert reply["thread_ts"] == parent["ts"] and done["ts"] == reply["ts"]


async def test_list_info_delete(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    a = (await upload(app, team.alice.token, "a.txt", b"a", channel_id=team.general))["files"][0]
    b = (await upload(app, team.bob.token, "b.png", b"not really png", channel_id=team.general))["files"][0]
    everyone = await ok(await app.call("files.list", team.carol.token))
    assert [f["id"] for f in everyone["files"]] == [b["id"], a["id"]] and everyone["paging"]["total"] == 2
    by_alice = await ok(await app.call("files.list", team.carol.token, data={"user": team.alice.id}))
    assert [f["id"] for f in by_alice["files"]] == [a["id"]]
    images = await ok(await app.call("files.list", team.carol.token, data={"types": "images"}))
    assert [f["id"] for f in images["files"]] == [b["id"]]
    paged = await ok(await app.call("files.list", team.carol.token, data={"count": 1, "page": 2}))
    assert [f["id"] for f in paged["files"]] == [a["id"]] and paged["paging"]["pages"] == 2
    later = await ok(await app.call("files.list", team.carol.token, data={"ts_from": "9999999999"}))
    assert later["files"] == []
    info = await ok(await app.call("files.info", team.carol.token, data={"file": a["id"]}))
    assert info["file"]["id"] == a["id"] and info["file"]["channels"] == [team.general]
    refused = await app.call("files.delete", team.carol.token, data={"file": a["id"]})
    assert refused.json()["error"] == "cant_delete_file"
    await ok(await app.call("files.delete", team.alice.token, data={"file": a["id"]}))
    gone = await app.call("files.info", team.alice.token, data={"file": a["id"]})
    assert gone.json()["error"] == "file_not_found"
    path = httpx.URL(a["url_private"]).raw_path.decode()
    assert (
        await app.http.get(path, headers={"Authorization": f"Bearer {team.alice.token}"})
    ).status_code == 404
    messages, _, _ = await history.history(app.store, team.bob.caller, team.general, 0, None, True, 10, None)
    tomb = [m for m in messages if m.get("files") and m["files"][0]["id"] == a["id"]]
    assert tomb[0]["files"][0] == {"id": a["id"], "mode": "tombstone"}


async def test_legacy_files_upload_multipart(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    answer = await ok(
        await app.call(
            "files.upload",
            team.alice.token,
            data={"channels": team.general, "title": "Report", "initial_comment": "here"},
            files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")},
        )
    )
    f = answer["file"]
    assert f["name"] == "report.csv" and f["title"] == "Report" and f["size"] == 8
    assert list(f["shares"]["public"]) == [team.general] and answer["ts"]
    content = await ok(
        await app.call("files.upload", team.alice.token, data={"content": "just text", "filename": "t.txt"})
    )
    assert content["file"]["size"] == 9 and content["file"]["shares"] == {}
    refused = await app.call(
        "files.upload",
        team.alice.token,
        files={"file": ("big.bin", b"x" * (MAX_BYTES + 1), "application/octet-stream")},
    )
    assert refused.json()["error"] == "file_too_large"


async def test_abandoned_uploads_are_swept_with_their_bytes(files_app: InProcess, tmp_path: Any) -> None:
    app, team = files_app, files_app.team
    files = app.asgi.state.origin.api.files
    files.settings.upload_ttl_s = -1  # every URL and every stored upload is already past its time
    never_used = await ok(
        await app.call("files.getUploadURLExternal", team.alice.token, data={"filename": "a", "length": 3})
    )
    used = await ok(
        await app.call("files.getUploadURLExternal", team.alice.token, data={"filename": "b", "length": 3})
    )
    expired = await app.http.post(httpx.URL(never_used["upload_url"]).raw_path.decode(), content=b"abc")
    assert expired.status_code == 404  # an expired URL is refused outright
    files.settings.upload_ttl_s = 600
    fresh = await ok(
        await app.call("files.getUploadURLExternal", team.alice.token, data={"filename": "c", "length": 3})
    )
    assert (
        await app.http.post(httpx.URL(fresh["upload_url"]).raw_path.decode(), content=b"xyz")
    ).status_code == 200
    files.settings.upload_ttl_s = -1
    async with app.store.write(team.id) as tx:  # "used" got its bytes but was never completed
        await tx.conn.execute("UPDATE files SET expires = 0 WHERE id = ?", [fresh["file_id"]])
    # never_used, used (pending), fresh (stored, not completed): all three go, whether this sweep
    # or the app's own periodic one (every 60 s, and this module's tests share the app) got there
    assert await files.sweep() <= 3
    ids = [never_used["file_id"], used["file_id"], fresh["file_id"]]
    async with app.store.read(team.id) as conn:
        left = await conn.fetchall("SELECT id FROM files WHERE id IN (?, ?, ?)", ids)
    assert left == []
    assert not [p for p in (tmp_path / "blobs" / "objects").rglob("*") if p.is_file()]
    assert used["file_id"] != fresh["file_id"]


async def test_a_new_title_is_a_file_change(files_app: InProcess) -> None:
    app, team = files_app, files_app.team
    done = await upload(app, team.alice.token, "t.txt", b"t", channel_id=team.general)
    file_id = done["files"][0]["id"]
    again = await ok(
        await app.call(
            "files.completeUploadExternal",
            team.alice.token,
            data={"files": orjson.dumps([{"id": file_id, "title": "Renamed"}]).decode()},
        )
    )
    assert again["files"][0]["title"] == "Renamed"
    async with app.store.read(team.id) as conn:
        kinds = [
            r[0]
            for r in await conn.fetchall(
                "SELECT type FROM outbox WHERE team_id = ? ORDER BY event_offset", [team.id]
            )
        ]
    assert kinds[-3:] == ["message", "file_shared", "file_change"]
