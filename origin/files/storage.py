"""Where file bytes live: a small interface and the local-filesystem backend.

A blob is named by the SHA-256 of its bytes (content-addressed): a name that came from a
request never reaches the filesystem or a bucket, only a key the store computed itself
(:func:`check_key` refuses anything else). ``put`` streams: it holds one chunk at a time,
counts the bytes as they come and stops at the limit before anything is kept, so a body over
it costs nothing but the temporary bytes, which are removed. A write is atomic: bytes go to a
temporary name and are renamed into place only when complete, so a reader never sees half a
blob, and a crashed upload leaves only a temporary file that :meth:`BlobStore.sweep` removes.

The S3 backend (:mod:`origin.files.s3`) implements the same interface; :func:`open_store`
picks one from a URL (``file:///path`` or ``s3://bucket[/prefix]``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

#: Bytes written to (or read from) the disk per call: big enough to amortise a thread hop,
#: small enough that memory stays flat whatever the file's size.
CHUNK = 1 << 20
_KEY = re.compile(r"[0-9a-f]{64}")


class TooLarge(Exception):
    """The bytes passed the limit: nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Blob:
    key: str  # sha256 hex of the bytes
    size: int


def check_key(key: str) -> str:
    """A key the store made (64 lowercase hex digits), else ValueError: the only names that
    ever reach a path or an object key."""
    if not _KEY.fullmatch(key):
        raise ValueError("not a blob key")
    return key


class BlobStore(Protocol):
    """The storage interface every backend implements."""

    async def put(self, chunks: AsyncIterable[bytes], limit: int) -> Blob:
        """Store the bytes (streamed); TooLarge past ``limit``, with nothing kept. An exception
        raised by ``chunks`` aborts the write the same way and propagates."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start`` to ``end`` (inclusive; None: to the end), in chunks."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size, None when there is none."""
        ...

    async def delete(self, key: str) -> None: ...

    async def sweep(self, older_than_s: float) -> int:
        """Remove what interrupted writes left behind; return how many."""
        ...

    async def close(self) -> None: ...


class LocalStore:
    """Blobs under ``root/objects/ab/cd/<key>``; writes in progress under ``root/tmp``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.objects / key[:2] / key[2:4] / key

    async def put(self, chunks: AsyncIterable[bytes], limit: int) -> Blob:
        digest = hashlib.sha256()
        size = 0
        temp = self.tmp / f"{secrets.token_hex(16)}.part"
        handle = await asyncio.to_thread(open, temp, "wb")
        pending: list[bytes] = []
        buffered = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                pending.append(chunk)
                buffered += len(chunk)
                if buffered >= CHUNK:
                    await asyncio.to_thread(handle.write, b"".join(pending))
                    pending, buffered = [], 0
            if pending:
                await asyncio.to_thread(handle.write, b"".join(pending))
            await asyncio.to_thread(_flush, handle)
            handle.close()
            key = digest.hexdigest()
            final = self.path(key)
            await asyncio.to_thread(_place, temp, final)
            return Blob(key, size)
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path(key)
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                want = CHUNK if left is None else min(CHUNK, left)
                data = await asyncio.to_thread(handle.read, want)
                if not data:
                    break
                if left is not None:
                    left -= len(data)
                yield data
        finally:
            handle.close()

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, True)

    async def sweep(self, older_than_s: float) -> int:
        def run() -> int:
            cutoff = time.time() - older_than_s
            removed = 0
            for entry in self.tmp.iterdir():
                if entry.stat().st_mtime < cutoff:
                    entry.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        return None


def _flush(handle: object) -> None:
    handle.flush()  # type: ignore[attr-defined]
    os.fsync(handle.fileno())  # type: ignore[attr-defined]


def _place(temp: Path, final: Path) -> None:
    """Rename into place (atomic); the same bytes already there (content-addressed) win."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        temp.unlink(missing_ok=True)
        return
    os.replace(temp, final)


def open_store(url: str, endpoint_url: str | None = None) -> BlobStore:
    """``file:///abs/path``, ``file://relative/path`` (or a bare path) -> :class:`LocalStore`; ``s3://bucket[/prefix]``
    -> :class:`origin.files.s3.S3Store` (``endpoint_url``: an S3-compatible server)."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        path = unquote(parts.path if parts.scheme else url)
        if parts.scheme and parts.netloc not in ("", "localhost"):  # file://relative/dir
            path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"file store {url!r} names no directory")
        return LocalStore(path)
    if parts.scheme == "s3":
        from origin.files.s3 import S3Store

        if not parts.netloc:
            raise ValueError(f"file store {url!r} names no bucket")
        return S3Store(parts.netloc, parts.path.strip("/"), endpoint_url)
    raise ValueError(f"file store {url!r}: expected file:///path or s3://bucket")
