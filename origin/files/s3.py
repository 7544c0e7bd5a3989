"""The S3 backend of :mod:`origin.files.storage`, over aiobotocore (any S3-compatible server).

Streaming with a content address: the key is the bytes' SHA-256, known only at the end. A
blob that fits in one part (:data:`PART` bytes) is hashed in memory and put under its key at
once; a bigger one goes up as a multipart upload under a temporary key, one part in memory at
a time, and is then copied server-side to its key and the temporary object removed. A failed
write aborts its multipart upload, and :meth:`S3Store.sweep` aborts those a crash left.
Credentials and region come from the usual AWS environment (``AWS_ACCESS_KEY_ID``...).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.session import get_session

from origin.files.storage import Blob, TooLarge, check_key

#: Bytes per multipart part (S3's minimum is 5 MiB for all but the last).
PART = 8 << 20
#: Bytes per chunk when reading a blob back.
READ_CHUNK = 1 << 20


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint_url = endpoint_url
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def client(self) -> Any:
        if self._client is None:
            session = get_session()
            self._client = await self._stack.enter_async_context(
                session.create_client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                )
            )
        return self._client

    def object_key(self, key: str) -> str:
        return f"{self.prefix}objects/{check_key(key)}"

    async def put(self, chunks: AsyncIterable[bytes], limit: int) -> Blob:
        s3 = await self.client()
        digest = hashlib.sha256()
        size = 0
        part: list[bytes] = []
        buffered = 0
        upload: dict[str, Any] | None = None
        temp = f"{self.prefix}tmp/{int(time.time())}-{secrets.token_hex(16)}"  # see sweep
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                part.append(chunk)
                buffered += len(chunk)
                if buffered >= PART:
                    if upload is None:
                        upload = await s3.create_multipart_upload(Bucket=self.bucket, Key=temp)
                    await self._send_part(s3, temp, upload["UploadId"], parts, b"".join(part))
                    part, buffered = [], 0
            key = digest.hexdigest()
            final = self.object_key(key)
            if upload is None:
                await s3.put_object(Bucket=self.bucket, Key=final, Body=b"".join(part))
                return Blob(key, size)
            if part:
                await self._send_part(s3, temp, upload["UploadId"], parts, b"".join(part))
            await s3.complete_multipart_upload(
                Bucket=self.bucket, Key=temp, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
            upload = None
            await s3.copy_object(
                Bucket=self.bucket, Key=final, CopySource={"Bucket": self.bucket, "Key": temp}
            )
            await s3.delete_object(Bucket=self.bucket, Key=temp)
            return Blob(key, size)
        except BaseException:
            if upload is not None:
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=temp, UploadId=upload["UploadId"])
            raise

    async def _send_part(
        self, s3: Any, temp: str, upload_id: str, parts: list[dict[str, Any]], data: bytes
    ) -> None:
        number = len(parts) + 1
        answer = await s3.upload_part(
            Bucket=self.bucket, Key=temp, UploadId=upload_id, PartNumber=number, Body=data
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        s3 = await self.client()
        extra = {"Range": f"bytes={start}-{'' if end is None else end}"} if start or end is not None else {}
        answer = await s3.get_object(Bucket=self.bucket, Key=self.object_key(key), **extra)
        async with answer["Body"] as body:
            while True:
                data = await body.read(READ_CHUNK)
                if not data:
                    break
                yield data

    async def size(self, key: str) -> int | None:
        s3 = await self.client()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        s3 = await self.client()
        await s3.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    async def sweep(self, older_than_s: float) -> int:
        s3 = await self.client()
        cutoff = time.time() - older_than_s
        removed = 0
        listed = await s3.list_multipart_uploads(Bucket=self.bucket, Prefix=f"{self.prefix}tmp/")
        for upload in listed.get("Uploads", []):
            if self._started(upload["Key"], upload["Initiated"].timestamp()) < cutoff:
                await s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                removed += 1
        objects = await s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}tmp/")
        for item in objects.get("Contents", []):
            if item["LastModified"].timestamp() < cutoff:
                await s3.delete_object(Bucket=self.bucket, Key=item["Key"])
                removed += 1
        return removed

    def _started(self, key: str, initiated: float) -> float:
        """When the write behind a temporary key began: the time its name carries (written by
        :meth:`put`), else the server's ``Initiated``. Not every S3-compatible server reports
        ``Initiated`` truly (moto answers a fixed date in 2010), and a sweep trusting it would
        abort uploads still in progress."""
        stamp, sep, _ = key.removeprefix(f"{self.prefix}tmp/").partition("-")
        return float(stamp) if sep and stamp.isdigit() else initiated

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
