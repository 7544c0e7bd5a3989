"""The pure parts of files: URL layout, signing, ranges, names and types, the multipart reader."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from origin.files import signing
from origin.files.http import disposition, parse_range
from origin.files.objects import clean_name, types_of
from origin.files.streams import LengthMismatch, MultipartReader, exactly
from wire.errors import SlackError
from wire.files import download_path, team_of, thumb_path, upload_path


def test_paths_lead_with_the_workspace() -> None:
    assert team_of(upload_path("T123", "F1.99.abc")) == "T123"
    assert team_of(download_path("T9", "F8", "a b.txt")) == "T9"
    assert team_of(download_path("T9", "F8", "x", download=True)) == "T9"
    assert team_of(thumb_path("T7", "F1", 64)) == "T7"
    assert team_of("/files-pri/../etc") is None and team_of("/api/x") is None


def test_upload_urls_are_signed_and_expire() -> None:
    url = signing.upload_url("http://r", "s3cret", "T1", "FABC", int(time.time()) + 60)
    token = url.rsplit("/", 1)[-1]
    grant = signing.verify("s3cret", token)
    assert grant is not None and (grant.team_id, grant.file_id) == ("T1", "FABC")
    assert signing.verify("other", token) is None
    assert signing.verify("s3cret", token.replace("FABC", "FABD")) is None
    assert signing.verify("s3cret", token, now=time.time() + 120) is None
    assert signing.verify("s3cret", "../../x") is None


def test_ranges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=5-", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=0-99", 10) == (0, 9)
    assert parse_range("bytes=10-", 10) is False
    assert parse_range("bytes=4-2", 10) is False
    assert parse_range("bytes=0-1,4-5", 10) is None  # several: the whole file
    assert parse_range("items=1-2", 10) is None


def test_names_and_types_come_from_the_name() -> None:
    assert clean_name("../../etc/passwd") == "passwd" and clean_name("a\x00b\n.txt") == "ab.txt"
    assert clean_name("") == "file" and len(clean_name("x" * 999)) == 255
    assert types_of("photo.JPG") == ("image/jpeg", "jpg")
    assert types_of("page.html")[0] == "text/html"
    assert types_of("noext") == ("application/octet-stream", "binary")
    assert types_of("image.svg")[1] == "svg"
    assert disposition('a"b.txt', False).startswith('attachment; filename="a_b.txt"')
    assert disposition("été.png", True).endswith("filename*=UTF-8''%C3%A9t%C3%A9.png")


async def feed(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_exactly_the_declared_length() -> None:
    assert [c async for c in exactly(feed(b"ab", b"c"), 3)] == [b"ab", b"c"]
    with pytest.raises(LengthMismatch):
        [c async for c in exactly(feed(b"ab", b"cd"), 3)]
    with pytest.raises(LengthMismatch):
        [c async for c in exactly(feed(b"ab"), 3)]


async def test_multipart_reader_streams_parts() -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="title"\r\n\r\nHello\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"\x00" * 5000 + b"\r\n--XX--\r\n"
    )
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]  # split anywhere
    reader = MultipartReader(feed(*pieces), b"XX")
    seen: dict[str, object] = {}
    async for part in reader.parts():
        if part.filename:
            seen[part.filename] = sum([len(c) async for c in reader.data()])
        else:
            seen[part.name] = await reader.text()
    assert seen == {"title": "Hello", "a.bin": 5000}
    cut = MultipartReader(feed(body[:60]), b"XX")
    with pytest.raises(SlackError):
        async for _ in cut.parts():
            pass
