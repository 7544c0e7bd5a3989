"""files.* (the v2 upload flow's two calls, info, list, delete). The bytes themselves travel
outside this registry (``origin.files.http``): to the upload URL, and through the streamed
legacy ``files.upload``."""

from __future__ import annotations

from typing import Any

import orjson

from origin.api.registry import JSON, Context, method
from origin.files.service import TYPES, Files, once
from origin.files.storage import TooLarge
from wire.args import Args
from wire.errors import SlackError, invalid_arguments

MAX_FILES = 10


def service(ctx: Context) -> Files:
    if not isinstance(ctx.files, Files):
        raise SlackError("file_uploads_disabled", "this origin runs without a file store")
    return ctx.files


def file_items(args: Args) -> list[tuple[str, str | None]]:
    """``files``: a JSON array (or its JSON text) of {id, title?}."""
    value: Any = args.values.get("files")
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise invalid_arguments("files", "must be a JSON array of {id, title}") from None
    if not isinstance(value, list) or not value:
        raise invalid_arguments("files", "must be a JSON array of {id, title}")
    if len(value) > MAX_FILES:
        raise invalid_arguments("files", f"at most {MAX_FILES} files")
    out: list[tuple[str, str | None]] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].isalnum():
            raise invalid_arguments("files", "each item is {id, title}")
        title = item.get("title")
        if title is not None and not isinstance(title, str):
            raise invalid_arguments("files", "title must be a string")
        out.append((item["id"], title))
    return out


def channel_list(args: Args) -> list[str]:
    if "channel_id" in args:
        return [args.string("channel_id", max_len=80)]
    if "channels" in args:
        return args.items("channels", max_items=20)
    if "channel" in args:
        return [args.string("channel", max_len=80)]
    return []


@method("files.getUploadURLExternal")
async def get_upload_url(ctx: Context, args: Args) -> JSON:
    files = service(ctx)
    name = args.string("filename", max_len=1000)
    length = args.integer("length", -1, 0, 1 << 62)
    if length < 0:
        raise invalid_arguments("length", "is required")
    alt = args.opt_string("alt_txt")
    if alt is not None and len(alt) > 1000:
        raise invalid_arguments("alt_txt", "is longer than 1000 characters")
    return await files.start_upload(ctx.caller, name, length, alt)


@method("files.completeUploadExternal")
async def complete_upload(ctx: Context, args: Args) -> JSON:
    files = service(ctx)
    items = file_items(args)
    channels = channel_list(args)
    text = args.string("initial_comment", "", max_len=40_000)
    thread_ts = args.opt_ts("thread_ts")
    return await files.complete(ctx.caller, items, channels, text, thread_ts, store=ctx.store)


@method("files.info")
async def info(ctx: Context, args: Args) -> JSON:
    return await service(ctx).info(ctx.caller, args.id("file", "file_not_found"))


def _seconds(args: Args, name: str) -> int | None:
    if name not in args:
        return None
    try:
        return int(float(args.string(name, max_len=20)) * 1_000_000)
    except ValueError:
        raise invalid_arguments(name, "must be a Unix time in seconds") from None


@method("files.list")
async def files_list(ctx: Context, args: Args) -> JSON:
    files = service(ctx)
    channel = args.id("channel", "channel_not_found") if "channel" in args else None
    user = args.id("user", "user_not_found") if "user" in args else None
    types = args.items("types", max_items=10) if "types" in args else []
    unknown = [t for t in types if t != "all" and t not in TYPES]
    if unknown:
        raise invalid_arguments("types", f"one of all, {', '.join(TYPES)}")
    count = args.integer("count", 100, 1, 1000)
    page = args.integer("page", 1, 1, 100_000)
    return await files.list(
        ctx.caller, channel, user, types, _seconds(args, "ts_from"), _seconds(args, "ts_to"), count, page
    )


@method("files.delete")
async def delete(ctx: Context, args: Args) -> JSON:
    await service(ctx).delete(ctx.caller, args.id("file", "file_not_found"), store=ctx.store)
    return {}


@method("files.upload")
async def upload(ctx: Context, args: Args) -> JSON:
    """The legacy upload with its bytes in ``content`` (a multipart file part arrives through
    the streamed route instead, ``origin.files.http``)."""
    files = service(ctx)
    if "content" not in args:
        raise SlackError("no_file_data", "send a file part or a content field")
    data = args.string("content", max_len=files.settings.max_bytes).encode()
    try:
        blob = await files.blobs.put(once(data), files.settings.max_bytes)
    except TooLarge:
        raise SlackError("file_too_large", f"files are at most {files.settings.max_bytes} bytes") from None
    return await files.legacy(ctx.caller, blob, args, store=ctx.store)
