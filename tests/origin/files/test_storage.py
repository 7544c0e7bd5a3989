"""The blob stores: local filesystem, and S3 against moto's server on a free loopback port."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from origin.files.s3 import PART, S3Store
from origin.files.storage import BlobStore, LocalStore, TooLarge, check_key, open_store
from tests.conftest import free_port


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in store.read(key, start, end)])


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in server mode, on a free port: a real S3 HTTP API on loopback."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def open_s3(endpoint: str) -> S3Store:
    """A store on a new bucket (moto's servers in one process share their state)."""
    store = S3Store(f"flannel-{secrets.token_hex(6)}", "team-files", endpoint)
    client = await store.client()
    await client.create_bucket(Bucket=store.bucket)
    return store


@pytest.fixture
async def s3(s3_server: str) -> AsyncIterator[S3Store]:
    store = await open_s3(s3_server)
    try:
        yield store
    finally:
        await store.close()


#: moto's server is a real server (in a thread): the tests that use it are e2e.
E2E = pytest.mark.e2e


@pytest.fixture(params=["local", pytest.param("s3", marks=E2E)])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "blobs")
        return
    store = await open_s3(request.getfixturevalue("s3_server"))
    try:
        yield store
    finally:
        await store.close()


async def test_put_read_ranges_delete(blobs: BlobStore) -> None:
    data = os.urandom(300_000)
    blob = await blobs.put(chunks(data), 1_000_000)
    assert blob.key == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert await read_all(blobs, blob.key) == data
    assert await read_all(blobs, blob.key, 1000, 1999) == data[1000:2000]
    assert await blobs.size(blob.key) == len(data)
    again = await blobs.put(chunks(data, 7), 1_000_000)  # the same bytes: the same blob
    assert again == blob
    await blobs.delete(blob.key)
    assert await blobs.size(blob.key) is None


async def test_over_the_limit_keeps_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    data = b"z" * (PART + 1000)  # past one S3 part, so a multipart upload had begun
    with pytest.raises(TooLarge):
        await blobs.put(chunks(data), PART + 10)
    assert await blobs.size(hashlib.sha256(data).hexdigest()) is None
    if isinstance(blobs, LocalStore):
        assert not list(blobs.tmp.iterdir())
    else:
        assert isinstance(blobs, S3Store)
        client = await blobs.client()
        assert not (await client.list_multipart_uploads(Bucket=blobs.bucket)).get("Uploads")


async def test_a_failing_body_keeps_nothing(blobs: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * (PART + 5)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.put(broken(), 1 << 30)
    if isinstance(blobs, LocalStore):
        assert not list(blobs.tmp.iterdir())
    else:
        assert isinstance(blobs, S3Store)
        client = await blobs.client()
        assert not (await client.list_multipart_uploads(Bucket=blobs.bucket)).get("Uploads")


@E2E
async def test_s3_multipart_blob(s3: S3Store) -> None:
    data = os.urandom(2 * PART + 12345)
    blob = await s3.put(chunks(data, 1 << 20), 1 << 30)
    assert blob.size == len(data) and await read_all(s3, blob.key) == data
    assert await read_all(s3, blob.key, PART - 10, PART + 9) == data[PART - 10 : PART + 10]
    client = await s3.client()
    listed = await client.list_objects_v2(Bucket=s3.bucket)
    assert [o["Key"] for o in listed["Contents"]] == [f"team-files/objects/{blob.key}"]  # no temporary left


@E2E
async def test_s3_sweep_spares_uploads_in_progress_and_removes_abandoned_ones(s3: S3Store) -> None:
    """moto reports every multipart upload as begun in 2010: the sweep goes by the time the
    temporary key carries, so an upload under way survives a sweep and an abandoned one goes."""
    client = await s3.client()
    abandoned = await client.create_multipart_upload(Bucket=s3.bucket, Key="team-files/tmp/1000-abandoned")
    data = os.urandom(2 * PART + 7)
    first_part_sent = asyncio.Event()
    go_on = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield data[:PART]
        yield data[PART : PART + 1]  # the first part is sent once this is asked for
        first_part_sent.set()
        await go_on.wait()
        yield data[PART + 1 :]

    writing = asyncio.create_task(s3.put(slow(), 1 << 30))
    await asyncio.wait_for(first_part_sent.wait(), 10)
    assert await s3.sweep(3600) == 1  # the abandoned one only
    go_on.set()
    blob = await asyncio.wait_for(writing, 30)
    assert await read_all(s3, blob.key) == data
    left = await client.list_multipart_uploads(Bucket=s3.bucket)
    assert abandoned["UploadId"] not in {u["UploadId"] for u in left.get("Uploads", [])}


async def test_sweep_removes_interrupted_writes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blobs")
    leftover = store.tmp / "abc.part"
    leftover.write_bytes(b"half")
    os.utime(leftover, (0, 0))
    assert await store.sweep(3600) == 1 and not leftover.exists()


def test_keys_never_come_from_requests(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "", "0" * 63 + "/"):
        with pytest.raises(ValueError):
            check_key(bad)
        with pytest.raises(ValueError):
            store.path(bad)


def test_open_store_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store(f"file://{tmp_path}/a"), LocalStore)
    assert isinstance(open_store("s3://bucket/prefix", "http://127.0.0.1:1"), S3Store)
    with pytest.raises(ValueError):
        open_store("ftp://x")
