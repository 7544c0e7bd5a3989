"""The origin's v2 flow with its files on S3 (moto's server on loopback)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import orjson
import pytest

from origin.files.settings import FilesSettings
from origin.store.shards import Store
from tests.origin.conftest import in_process
from tests.origin.files.test_storage import open_s3, s3_server

__all__ = ["s3_server"]


@pytest.mark.e2e
async def test_upload_and_download_on_s3(tmp_path: Path, s3_server: str) -> None:
    """The blob store is what varies here (the databases are covered by the other tests)."""
    store = await Store.open([f"sqlite:///{tmp_path}/s3.db"])
    try:
        await check_s3_flow(store, s3_server)
    finally:
        await store.close()


async def check_s3_flow(store: Store, s3_server: str) -> None:
    bucket = await open_s3(s3_server)
    await bucket.close()
    settings = FilesSettings(store_url=f"s3://{bucket.bucket}/origin", s3_endpoint=s3_server)
    data = os.urandom(9 << 20)  # more than one multipart part
    async for app in in_process(store, files=settings):
        team = app.team
        got = (
            await app.call(
                "files.getUploadURLExternal",
                team.alice.token,
                data={"filename": "r.bin", "length": len(data)},
            )
        ).json()
        path = httpx.URL(got["upload_url"]).raw_path.decode()
        assert (await app.http.post(path, content=data)).status_code == 200
        files = orjson.dumps([{"id": got["file_id"]}]).decode()
        done = (
            await app.call(
                "files.completeUploadExternal",
                team.alice.token,
                data={"files": files, "channel_id": team.private},
            )
        ).json()
        url = httpx.URL(done["files"][0]["url_private"]).raw_path.decode()
        bob = await app.http.get(
            url, headers={"Authorization": f"Bearer {team.bob.token}", "Range": "bytes=5-9"}
        )
        assert bob.status_code == 206 and bob.content == data[5:10]
        whole = await app.http.get(url, headers={"Authorization": f"Bearer {team.bob.token}"})
        assert whole.content == data
        carol = await app.http.get(url, headers={"Authorization": f"Bearer {team.carol.token}"})
        assert carol.status_code == 404
