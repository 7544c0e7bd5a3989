"""reactions.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import reactions
from wire.args import Args
from wire.cursors import metadata, page


def _target(args: Args) -> tuple[str, int]:
    channel = args.id("channel", "channel_not_found")
    return channel, args.ts("timestamp", error="message_not_found")


@method("reactions.add")
async def reactions_add(ctx: Context, args: Args) -> JSON:
    channel, ts = _target(args)
    await reactions.set_reaction(ctx.store, ctx.caller, channel, ts, args.string("name"), True)
    return {}


@method("reactions.remove")
async def reactions_remove(ctx: Context, args: Args) -> JSON:
    channel, ts = _target(args)
    await reactions.set_reaction(ctx.store, ctx.caller, channel, ts, args.string("name"), False)
    return {}


@method("reactions.get")
async def reactions_get(ctx: Context, args: Args) -> JSON:
    channel, ts = _target(args)
    return await reactions.get(ctx.store, ctx.caller, channel, ts)


@method("reactions.list")
async def reactions_list(ctx: Context, args: Args) -> JSON:
    user_id = args.id("user", "user_not_found") if "user" in args else ctx.caller.user_id
    limit, after = page(args, "reaction", default=100)
    items, next_cursor = await reactions.list_reactions(
        ctx.store, ctx.caller, user_id, limit, after, ctx.base_url
    )
    return {"items": items, **metadata(next_cursor)}
