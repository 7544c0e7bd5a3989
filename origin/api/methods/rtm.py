"""rtm.start: the fat baseline (thin clients connect through the router and an edge)."""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service.boot import fat_boot
from wire.args import Args


@method("rtm.start")
async def rtm_start(ctx: Context, args: Args) -> JSON:
    return await fat_boot(ctx.store, ctx.caller)
