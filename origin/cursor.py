"""Opaque pagination cursors (Slack's ``response_metadata.next_cursor``)."""

from __future__ import annotations

import base64
import binascii

from origin.errors import SlackError


def encode(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> str:
    """The key inside ``cursor``; ``invalid_cursor`` when it is not one of ours for ``kind``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackError("invalid_cursor") from None
    prefix, sep, key = raw.partition(":")
    if not sep or prefix != kind or not key:
        raise SlackError("invalid_cursor")
    return key
