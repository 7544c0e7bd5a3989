"""pins.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import pins
from wire.args import Args
from wire.errors import SlackError


def _target(args: Args) -> tuple[str, int]:
    channel = args.id("channel", "channel_not_found")
    if "timestamp" not in args:
        raise SlackError("no_item_specified", "give the timestamp of the message to pin")
    return channel, args.ts("timestamp", error="bad_timestamp")


@method("pins.add")
async def pins_add(ctx: Context, args: Args) -> JSON:
    await pins.add(ctx.store, ctx.caller, *_target(args), ctx.base_url)
    return {}


@method("pins.remove")
async def pins_remove(ctx: Context, args: Args) -> JSON:
    await pins.remove(ctx.store, ctx.caller, *_target(args), ctx.base_url)
    return {}


@method("pins.list")
async def pins_list(ctx: Context, args: Args) -> JSON:
    channel = args.id("channel", "channel_not_found")
    return {"items": await pins.list_pins(ctx.store, ctx.caller, channel, ctx.base_url)}
