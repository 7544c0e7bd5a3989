"""conversations.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import conversations as convs
from origin.service import dms, history, listing, readstate
from wire import cursors
from wire.args import Args
from wire.cursors import metadata, page


def _channel(args: Args) -> str:
    return args.id("channel", "channel_not_found")


@method("conversations.list")
async def conversations_list(ctx: Context, args: Args) -> JSON:
    types = listing.parse_types(args.opt_string("types"))
    limit, after = page(args, "conv", default=100)
    channels, next_cursor = await listing.list_conversations(
        ctx.store, ctx.caller, types, args.flag("exclude_archived"), limit, after
    )
    return {"channels": channels, **metadata(next_cursor)}


@method("conversations.info")
async def conversations_info(ctx: Context, args: Args) -> JSON:
    return {"channel": await convs.info(ctx.store, ctx.caller, _channel(args))}


@method("conversations.members")
async def conversations_members(ctx: Context, args: Args) -> JSON:
    limit, after = page(args, "member", default=100)
    ids, next_cursor = await convs.members(ctx.store, ctx.caller, _channel(args), limit, after)
    return {"members": ids, **metadata(next_cursor)}


def _ts_cursor(args: Args) -> int | None:
    if "cursor" not in args:
        return None
    return cursors.decode_int("ts", args.string("cursor"))


@method("conversations.history")
async def conversations_history(ctx: Context, args: Args) -> JSON:
    channel = _channel(args)
    limit = args.integer("limit", 100, 0, 1000, error="invalid_limit") or 100
    found, more, next_cursor = await history.history(
        ctx.store,
        ctx.caller,
        channel,
        args.ts("oldest", 0),
        args.opt_ts("latest"),
        args.flag("inclusive"),
        limit,
        _ts_cursor(args),
    )
    pins = await history.pin_count(ctx.store, ctx.caller, channel)
    return {"messages": found, "has_more": more, "pin_count": pins, **metadata(next_cursor)}


@method("conversations.replies")
async def conversations_replies(ctx: Context, args: Args) -> JSON:
    channel = _channel(args)
    ts = args.ts("ts", error="thread_not_found")
    limit = args.integer("limit", 100, 0, 1000, error="invalid_limit") or 100
    found, more, next_cursor = await history.replies(
        ctx.store,
        ctx.caller,
        channel,
        ts,
        args.ts("oldest", 0),
        args.opt_ts("latest"),
        args.flag("inclusive", True),
        limit,
        _ts_cursor(args),
    )
    return {"messages": found, "has_more": more, **metadata(next_cursor)}


@method("conversations.create")
async def conversations_create(ctx: Context, args: Args) -> JSON:
    name = args.string("name", max_len=200)
    return {"channel": await convs.create(ctx.store, ctx.caller, name, args.flag("is_private"))}


@method("conversations.join")
async def conversations_join(ctx: Context, args: Args) -> JSON:
    channel, already = await convs.join(ctx.store, ctx.caller, _channel(args))
    out: JSON = {"channel": channel}
    if already:
        out["warning"] = "already_in_channel"
        out["response_metadata"] = {"warnings": ["already_in_channel"]}
    return out


@method("conversations.leave")
async def conversations_leave(ctx: Context, args: Args) -> JSON:
    await convs.leave(ctx.store, ctx.caller, _channel(args))
    return {}


@method("conversations.invite")
async def conversations_invite(ctx: Context, args: Args) -> JSON:
    users = args.items("users", max_items=1000)
    return {"channel": await convs.invite(ctx.store, ctx.caller, _channel(args), users)}


@method("conversations.kick")
async def conversations_kick(ctx: Context, args: Args) -> JSON:
    await convs.kick(ctx.store, ctx.caller, _channel(args), args.id("user", "user_not_found"))
    return {}


@method("conversations.rename")
async def conversations_rename(ctx: Context, args: Args) -> JSON:
    name = args.string("name", max_len=200)
    return {"channel": await convs.rename(ctx.store, ctx.caller, _channel(args), name)}


@method("conversations.setTopic")
async def conversations_set_topic(ctx: Context, args: Args) -> JSON:
    value = args.string("topic", default="", max_len=1000)
    return {"channel": await convs.set_text(ctx.store, ctx.caller, _channel(args), "topic", value)}


@method("conversations.setPurpose")
async def conversations_set_purpose(ctx: Context, args: Args) -> JSON:
    value = args.string("purpose", default="", max_len=1000)
    channel = await convs.set_text(ctx.store, ctx.caller, _channel(args), "purpose", value)
    return {"channel": channel, "purpose": value}


@method("conversations.archive")
async def conversations_archive(ctx: Context, args: Args) -> JSON:
    await convs.set_archived(ctx.store, ctx.caller, _channel(args), True)
    return {}


@method("conversations.unarchive")
async def conversations_unarchive(ctx: Context, args: Args) -> JSON:
    await convs.set_archived(ctx.store, ctx.caller, _channel(args), False)
    return {}


@method("conversations.mark")
async def conversations_mark(ctx: Context, args: Args) -> JSON:
    # mark_unread=true: an explicit "mark unread" may move the cursor back (origin.service.readstate)
    await readstate.mark(ctx.store, ctx.caller, _channel(args), args.ts("ts"), args.flag("mark_unread"))
    return {}


@method("conversations.open")
async def conversations_open(ctx: Context, args: Args) -> JSON:
    if "channel" in args:
        channel = await convs.info(ctx.store, ctx.caller, _channel(args))
        return {"channel": channel, "already_open": True}
    users = args.items("users", max_items=8)
    channel, already = await dms.open_dm(ctx.store, ctx.caller, users)
    out: JSON = {"channel": channel if args.flag("return_im") else {"id": channel["id"]}}
    if already:
        out["already_open"] = True
        out["no_op"] = True
    return out


@method("conversations.close")
async def conversations_close(ctx: Context, args: Args) -> JSON:
    if await dms.close(ctx.store, ctx.caller, _channel(args)):
        return {"no_op": True, "already_closed": True}
    return {}
