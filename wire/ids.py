"""Identifiers and Slack timestamps.

Slack ids are a type letter and uppercase alphanumerics (``U0G9QF9C6``); message ``ts``
is ``"<seconds>.<microseconds>"``. Internally a ts is an integer of microseconds, which
orders exactly and indexes well; it is rendered as Slack's string at the edge of the API.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_TS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")  # ASCII digits only: no "²"


def new_id(kind: str) -> str:
    """A new random id: ``T`` team, ``U`` user, ``C`` channel, ``G`` private, ``D`` DM."""
    return kind + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def now_us() -> int:
    return time.time_ns() // 1000


def ts_str(us: int) -> str:
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def parse_ts(value: str) -> int:
    """``"1700000000.000100"`` -> microseconds; ValueError when it is not a ts."""
    if not _TS.fullmatch(value):
        raise ValueError(f"{value!r} is not a timestamp")
    secs, _, frac = value.partition(".")
    return int(secs) * 1_000_000 + int((frac + "000000")[:6])
