"""Change-log offsets as clients send them: ``resume_from`` on ``rtm.connect`` or ``/rtm``."""

from __future__ import annotations

import re
from typing import Any

from wire.errors import SlackError

MAX_OFFSET = 10**18
_OFFSET = re.compile(r"[0-9]{1,18}")


def parse_offset(value: Any, name: str = "resume_from") -> int | None:
    """Absent (None or ""), or a non-negative integer below 10**18, given as an int or as ASCII
    digits; anything else is ``invalid_arguments``."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_OFFSET:
        return value
    if isinstance(value, str) and _OFFSET.fullmatch(value):
        return int(value)
    raise SlackError("invalid_arguments", f"{name} must be a non-negative integer offset")


def header_offset(raw: str | None) -> int | None:
    """An offset from a header (``x-flannel-offset``, ``x-flannel-after``): ASCII digits below
    10**18; absent or anything else (a client may send any bytes) is None, never an error."""
    if raw is None or not _OFFSET.fullmatch(raw):
        return None
    return int(raw)
