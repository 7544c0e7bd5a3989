"""Files' bytes in an export (``__uploads/<file_id>/<name>``) and back in on import."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import orjson

from origin.files.objects import FileRow
from origin.files.service import Files
from origin.files.storage import open_store
from origin.service import history, teams
from origin.service.auth import Caller
from origin.store.shards import Store
from origin.transfer.exporter import export_workspace
from origin.transfer.importer import import_export
from tests.origin.conftest import InProcess
from tests.origin.files.conftest import files_app, files_settings
from tests.origin.files.test_v2_flow import upload
from wire.files import download_path

__all__ = ["files_app"]  # the fixture, for this module's tests


async def bytes_of(files: Files, caller: Caller, file_id: str) -> bytes:
    row: FileRow = await files.download(caller, file_id)
    assert row.blob is not None
    return b"".join([c async for c in files.blobs.read(row.blob)])


async def test_file_bytes_round_trip(files_app: InProcess, tmp_path: Path) -> None:
    app, team = files_app, files_app.team
    data = os.urandom(150_000)
    done = await upload(app, team.alice.token, "photo.bin", data, channel_id=team.general)
    file_id = done["files"][0]["id"]
    blobs = open_store(f"file://{tmp_path / 'blobs'}")
    out = tmp_path / "export.zip"
    counts = await export_workspace(app.store, team.id, out, blobs=blobs)
    assert counts["files"] == 1
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"__uploads/{file_id}/photo.bin") == data
        day_files = [n for n in zf.namelist() if not n.startswith("__uploads/") and "/" in n]
        carried = [f for n in day_files for m in orjson.loads(zf.read(n)) for f in m.get("files") or []]
        assert [f["id"] for f in carried] == [file_id]

    new_team, report = await import_export(
        app.store, out, team_name="Copy", blobs=blobs, public_url="http://copy.example"
    )
    assert report.imported["file"] == 1 and not report.skipped_count("upload")
    # the copy's ids are derived where another workspace holds them; the message follows
    async with app.store.read(new_team) as conn:
        (channel,) = await conn.fetchone(
            "SELECT c.id FROM conversations c JOIN conversations o ON o.name = c.name "
            "WHERE c.team_id = ? AND o.id = ?",
            [new_team, team.general],
        ) or (None,)
        (bob,) = await conn.fetchone(
            "SELECT u.id FROM users u JOIN users o ON o.name = u.name WHERE u.team_id = ? AND o.id = ?",
            [new_team, team.bob.id],
        ) or (None,)
    messages, _, _ = await history.history(
        app.store, Caller(new_team, bob, "t"), channel, 0, None, True, 10, None
    )
    shared = next(m for m in messages if m.get("subtype") == "file_share")
    new_id = shared["files"][0]["id"]
    # ids are unique per shard: on the original's shard the copy's file id is a derived one
    same_shard = await app.store.shard_of(new_team) is await app.store.shard_of(team.id)
    assert (new_id != file_id) == same_shard and new_id.startswith("F")
    # its links are this workspace's now, as the file service builds them, not the source's
    obj = shared["files"][0]
    assert obj["url_private"] == f"http://copy.example{download_path(new_team, new_id, 'photo.bin')}"
    assert obj["url_private_download"] == (
        f"http://copy.example{download_path(new_team, new_id, 'photo.bin', download=True)}"
    )
    assert obj["permalink"].startswith(f"http://copy.example/files/{obj['user']}/{new_id}/")
    files = Files(app.store, blobs, files_settings(tmp_path / "blobs"), "secret", "http://origin")
    # bob is a member of the channel, not the owner: the file is visible to him by its share
    assert await bytes_of(files, Caller(new_team, bob, "t"), new_id) == data
    assert await bytes_of(files, Caller(team.id, team.bob.id, "t"), file_id) == data  # untouched

    again, report2 = await import_export(app.store, out, new_team, blobs=blobs)
    assert again == new_team and report2.imported.get("file", 0) == 0
    assert report2.imported.get("message", 0) == 0


def _zip_with_uploads(path: Path, big: bytes) -> None:
    message = {
        "type": "message",
        "subtype": "file_share",
        "user": "U1",
        "text": "three files",
        "ts": "1704067200.000100",
        "files": [
            {"id": "FGOOD0001", "name": "a.txt", "title": "A", "user": "U1"},
            {"id": "FBIG00001", "name": "b.bin", "user": "U1"},
            {"id": "FBAD00001", "name": "c.txt", "user": "U1"},
        ],
    }
    later = {"type": "message", "user": "U1", "text": "after", "ts": "1704067300.000100"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("users.json", orjson.dumps([{"id": "U1", "name": "ann", "profile": {"email": "a@x.io"}}]))
        zf.writestr(
            "channels.json", orjson.dumps([{"id": "C1", "name": "gen", "members": ["U1"], "created": 1}])
        )
        zf.writestr("gen/2024-01-01.json", orjson.dumps([message, later]))
        zf.writestr("__uploads/FGOOD0001/a.txt", b"good bytes")
        zf.writestr("__uploads/FBIG00001/b.bin", big)
        zf.writestr("__uploads/FBAD00001/c.txt", b"CORRUPTME-original-bytes")
        zf.writestr("__uploads/nested/too/deep.txt", b"x")
    raw = path.read_bytes()
    assert raw.count(b"CORRUPTME-original-bytes") == 1
    path.write_bytes(raw.replace(b"CORRUPTME-original-bytes", b"CORRUPTME-tampered-bytes"))  # bad CRC


async def test_bad_uploads_are_reported_and_lose_nothing_else(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    _zip_with_uploads(path, b"z" * 5000)
    blobs = open_store(f"file://{tmp_path / 'blobs'}")
    team, report = await import_export(store, path, team_name="Bad", blobs=blobs, max_file_bytes=1000)
    assert report.imported["message"] == 2 and report.imported["file"] == 1
    assert report.skipped_count("upload", "file_too_large") == 1
    assert report.skipped_count("upload", "unreadable") == 1
    assert report.skipped_count("upload", "malformed_path") == 1
    skipped = orjson.dumps(report.as_json()).decode()
    assert "FBIG00001/b.bin" in skipped and "FBAD00001/c.txt" in skipped and "Bad CRC" in skipped
    async with store.read(team) as conn:
        rows = await conn.fetchall("SELECT id, size FROM files WHERE team_id = ?", [team])
    assert [(str(r[0]), int(r[1])) for r in rows] == [("FGOOD0001", 10)]
    messages, _, _ = await history.history(store, Caller(team, "U1", "t"), "C1", 0, None, True, 10, None)
    shared = next(m for m in messages if m.get("subtype") == "file_share")
    # the files without bytes stay what they were: metadata in the message
    assert [f["id"] for f in shared["files"]] == ["FGOOD0001", "FBIG00001", "FBAD00001"]
    files = Files(store, blobs, files_settings(tmp_path / "blobs"), "secret", "http://origin")
    assert await bytes_of(files, Caller(team, "U1", "t"), "FGOOD0001") == b"good bytes"


async def test_imported_bytes_count_against_the_workspace_quota(store: Store, tmp_path: Path) -> None:
    """Beyond the archive's own limits (entries, sizes, ratio), the bytes an import stores are
    held to the workspace's file quota, with what it holds already: over it, a file is one
    report item and stays metadata in its message."""
    path = tmp_path / "export.zip"
    _zip_with_uploads(path, b"z" * 5000)
    blobs = open_store(f"file://{tmp_path / 'blobs'}")
    team = (await teams.create_workspace(store, "Quota"))["id"]
    async with store.write(team) as tx:  # 3 bytes held already (an earlier upload)
        await tx.conn.execute(
            "INSERT INTO files (id, team_id, user_id, name, title, mimetype, filetype, size, declared, "
            "state, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"FHELD{team[-6:]}", team, "U0", "h.txt", "h", "text/plain", "text", 3, 3, "complete", 1],
        )
    _, report = await import_export(
        store, path, team, blobs=blobs, max_file_bytes=100_000, quota_bytes=15, public_url="http://o"
    )
    assert report.imported["message"] == 2 and report.imported["file"] == 1  # a.txt: 10 bytes, 2 left
    assert report.skipped_count("upload", "storage_limit_reached") == 1  # b.bin
    assert report.skipped_count("upload", "unreadable") == 1  # c.txt: its CRC fails first
    assert report.skipped_count("upload", "file_too_large") == 0
    async with store.read(team) as conn:
        rows = await conn.fetchall("SELECT id, size FROM files WHERE team_id = ? ORDER BY size", [team])
    assert [int(r[1]) for r in rows] == [3, 10]
    messages, _, _ = await history.history(store, Caller(team, "U1", "t"), "C1", 0, None, True, 10, None)
    shared = next(m for m in messages if m.get("subtype") == "file_share")
    links = {f["id"]: f.get("url_private") for f in shared["files"]}
    assert links["FGOOD0001"] == f"http://o{download_path(team, 'FGOOD0001', 'a.txt')}"
    assert links["FBIG00001"] is None  # no bytes here: the source's object, as it was


async def test_uploads_without_a_file_store_are_reported(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    _zip_with_uploads(path, b"z")
    team, report = await import_export(store, path, team_name="NoStore")
    assert report.imported["message"] == 2 and report.skipped_count("upload", "no_file_store") == 4
    async with store.read(team) as conn:
        assert await conn.fetchall("SELECT id FROM files WHERE team_id = ?", [team]) == []
