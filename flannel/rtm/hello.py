"""The thin hello: what a client gets first, sized by the user's channels, never the workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

JSON = dict[str, Any]


def build_hello(
    self_user: Mapping[str, Any],
    team: Mapping[str, Any],
    channels: Sequence[Mapping[str, Any]],
    offset: int,
    resync: bool = False,
    resume_from: int | None = None,
    typing_expiry_s: float | None = None,
) -> JSON:
    """``self``, ``team``, the user's compact channel list and the offset the hello reflects;
    with ``typing_expiry_s``, how long a client shows a ``user_typing`` (there is no stop)."""
    hello: JSON = {
        "type": "hello",
        "self": dict(self_user),
        "team": dict(team),
        "channels": list(channels),
        "offset": offset,
        "resync": resync,
        "resume_from": resume_from,
    }
    if typing_expiry_s is not None:
        hello["typing_expiry_s"] = typing_expiry_s
    return hello


def positioned(base: Mapping[str, Any], head: int, resync: bool, resume_from: int | None) -> JSON:
    """``base`` (a :func:`build_hello`) saying where the connection starts."""
    return {**base, "offset": head, "resync": resync, "resume_from": resume_from}
