"""Slack's two pagination styles as async iterators, so callers never handle cursors.

Cursor style (``response_metadata.next_cursor``): history, replies, member lists. Page style
(``paging.page`` of ``paging.pages``): ``search.messages``. Pages are fetched lazily, one when
the previous one is used up, so ``break`` after ten items costs one request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from client_sdk.models import JSON

Fetch = Callable[[Mapping[str, Any]], Awaitable[JSON]]


async def cursor_items(
    fetch: Fetch, args: Mapping[str, Any], key: str, *, page_size: int = 100, limit: int | None = None
) -> AsyncIterator[Any]:
    """Items of ``body[key]`` across every page, up to ``limit`` of them."""
    cursor: str | None = None
    given = 0
    while True:
        size = page_size if limit is None else max(1, min(page_size, limit - given))
        body = await fetch({**args, "limit": size, **({"cursor": cursor} if cursor else {})})
        items = body.get(key)
        items = items if isinstance(items, list) else []
        for item in items:
            yield item
            given += 1
            if limit is not None and given >= limit:
                return
        meta = body.get("response_metadata")
        cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
        if not cursor or not items:
            return


async def page_items(
    fetch: Fetch, args: Mapping[str, Any], key: str, *, page_size: int = 20, limit: int | None = None
) -> AsyncIterator[Any]:
    """``search.*`` results: ``body[key]["matches"]``, page after page."""
    page, given = 1, 0
    while True:
        body = await fetch({**args, "count": page_size, "page": page})
        section = body.get(key)
        section = section if isinstance(section, Mapping) else {}
        matches = section.get("matches")
        matches = matches if isinstance(matches, list) else []
        for item in matches:
            yield item
            given += 1
            if limit is not None and given >= limit:
                return
        paging = section.get("paging")
        pages = paging.get("pages") if isinstance(paging, Mapping) else None
        if not matches or not isinstance(pages, int) or page >= pages:
            return
        page += 1
