"""Thumbnails of uploaded images, made with Pillow (only for :data:`SAFE_IMAGES` up to
:data:`MAX_SOURCE` bytes; a file Pillow cannot read simply has none)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from origin.files.objects import SAFE_IMAGES, THUMB_SIZES

MAX_SOURCE = 25 << 20
#: Refuse decompression bombs well before Pillow's own (warning) threshold.
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Thumb:
    size: int
    data: bytes
    w: int
    h: int


def wants_thumbs(mimetype: str, size: int) -> bool:
    return mimetype in SAFE_IMAGES and 0 < size <= MAX_SOURCE


def make_thumbs(data: bytes) -> tuple[tuple[int, int], list[Thumb]] | None:
    """((width, height), thumbnails no bigger than the image), or None when it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return None
            image.load()
            source = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    out: list[Thumb] = []
    for edge in THUMB_SIZES:
        if edge >= max(width, height) and out:
            break
        copy = source.copy()
        copy.thumbnail((edge, edge))
        buffer = io.BytesIO()
        copy.save(buffer, "PNG", optimize=True)
        out.append(Thumb(edge, buffer.getvalue(), copy.width, copy.height))
    return (width, height), out
