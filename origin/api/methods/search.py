"""search.messages and search.files"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import search
from wire import cursors
from wire.args import Args
from wire.cursors import metadata
from wire.errors import invalid_arguments


def _choice(args: Args, name: str, choices: tuple[str, ...]) -> str:
    value = args.string(name, default=choices[0]).lower()
    if value not in choices:
        raise invalid_arguments(name, f"must be one of {', '.join(choices)}")
    return value


def _offset(args: Args, count: int) -> int:
    """From ``cursor`` (``*`` starts; ours carry the offset) or else from ``page`` (1-based)."""
    if "cursor" not in args:
        return (args.integer("page", 1, 1, search.MAX_PAGE) - 1) * count
    raw = args.string("cursor")
    if raw == "*":
        return 0
    return cursors.decode_int("search", raw, search.MAX_RESULTS)


@method("search.messages")
async def search_messages(ctx: Context, args: Args) -> JSON:
    """Slack's shape: ``messages`` with ``matches``, ``paging`` and ``pagination``; the next
    page also as an opaque ``response_metadata.next_cursor``."""
    query = args.string("query", max_len=search.MAX_QUERY_CHARS)
    count = args.integer("count", 20, 1, search.MAX_COUNT)
    offset = _offset(args, count)
    found = await search.search_messages(
        ctx.store,
        ctx.caller,
        query,
        count=count,
        offset=offset,
        sort=_choice(args, "sort", search.SORTS),
        sort_dir=_choice(args, "sort_dir", search.SORT_DIRS),
        highlight_words=args.flag("highlight"),
        base_url=ctx.base_url,
    )
    return _answer("messages", query, found, count, offset)


@method("search.files")
async def search_files(ctx: Context, args: Args) -> JSON:
    """Files shared in what the caller may read, by name and title: ``files`` in the shape of
    ``search.messages``' ``messages``."""
    query = args.string("query", max_len=search.MAX_QUERY_CHARS)
    count = args.integer("count", 20, 1, search.MAX_COUNT)
    offset = _offset(args, count)
    found = await search.search_files(
        ctx.store,
        ctx.caller,
        query,
        count=count,
        offset=offset,
        sort=_choice(args, "sort", search.SORTS),
        sort_dir=_choice(args, "sort_dir", search.SORT_DIRS),
        base_url=ctx.base_url,
    )
    return _answer("files", query, found, count, offset)


def _answer(kind: str, query: str, found: search.Found, count: int, offset: int) -> JSON:
    total, shown = found.total, len(found.matches)
    pages = -(-total // count)
    page = offset // count + 1
    end = offset + shown
    more = shown > 0 and end < min(total, search.MAX_RESULTS)
    return {
        "query": query,
        kind: {
            "total": total,
            "matches": found.matches,
            "paging": {"count": count, "total": total, "page": page, "pages": pages},
            "pagination": {
                "total_count": total,
                "page": page,
                "per_page": count,
                "page_count": pages,
                "first": offset + 1 if shown else 0,
                "last": end,
            },
        },
        **metadata(cursors.encode("search", str(end)) if more else None),
    }
