"""Web API methods, grouped as Slack groups them; each module registers its methods."""

from __future__ import annotations

from origin import cursor
from origin.api.args import Args


def page(args: Args, kind: str, default: int = 100, maximum: int = 1000) -> tuple[int, str | None]:
    """``limit`` and the key after which the page starts (from an opaque ``cursor``)."""
    limit = args.integer("limit", default, 0, maximum, error="invalid_limit") or default
    after = cursor.decode(kind, args.string("cursor")) if "cursor" in args else None
    return limit, after


def metadata(next_cursor: str | None) -> dict[str, dict[str, str]]:
    return {"response_metadata": {"next_cursor": next_cursor or ""}}
