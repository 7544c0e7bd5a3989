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
) -> JSON:
    """``self``, ``team``, the user's compact channel list and the offset the hello reflects."""
    return {
        "type": "hello",
        "self": dict(self_user),
        "team": dict(team),
        "channels": list(channels),
        "offset": offset,
        "resync": resync,
        "resume_from": resume_from,
    }


def positioned(base: Mapping[str, Any], head: int, resync: bool, resume_from: int | None) -> JSON:
    """``base`` (a :func:`build_hello`) saying where the connection starts."""
    return {**base, "offset": head, "resync": resync, "resume_from": resume_from}
