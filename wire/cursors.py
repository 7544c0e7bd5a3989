"""Opaque pagination cursors (Slack's ``response_metadata.next_cursor``) and page arguments.

Origin and edge encode cursors the same way, so a client may page at the edge and continue at
the origin. A cursor is ``base64url("<kind>:<key>")``; anything else, or a key that is not
plain ASCII of bounded length, is ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii

from wire.args import Args
from wire.errors import SlackError

MAX_CURSOR_CHARS = 512


def encode(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> str:
    """The key inside ``cursor``; ``invalid_cursor`` when it is not one of ours for ``kind``."""
    if len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        raise SlackError("invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackError("invalid_cursor") from None
    prefix, sep, key = raw.partition(":")
    if not sep or prefix != kind or not key or not (key.isascii() and key.isprintable()):
        raise SlackError("invalid_cursor")
    return key


def decode_int(kind: str, cursor: str, maximum: int = 2**62) -> int:
    """A cursor whose key is a non-negative integer below ``maximum`` (ASCII digits only)."""
    key = decode(kind, cursor)
    if not key.isascii() or not key.isdigit() or len(key) > 20 or int(key) >= maximum:
        raise SlackError("invalid_cursor")
    return int(key)


def page(args: Args, kind: str, default: int = 100, maximum: int = 1000) -> tuple[int, str | None]:
    """``limit`` and the key after which the page starts (from an opaque ``cursor``)."""
    limit = args.integer("limit", default, 0, maximum, error="invalid_limit") or default
    after = decode(kind, args.string("cursor")) if "cursor" in args else None
    return limit, after


def metadata(next_cursor: str | None) -> dict[str, dict[str, str]]:
    return {"response_metadata": {"next_cursor": next_cursor or ""}}
