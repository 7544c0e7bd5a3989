"""What a workspace holds besides users and conversations: bots, custom emoji, user groups."""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import bots, emoji, usergroups
from wire.args import Args
from wire.errors import SlackError


@method("bots.info")
async def bots_info(ctx: Context, args: Args) -> JSON:
    bot_id = args.id("bot", "bot_not_found") if "bot" in args else None
    return {"bot": await bots.bot_info(ctx.store, ctx.caller, bot_id)}


@method("emoji.list")
async def emoji_list(ctx: Context, args: Args) -> JSON:
    return {"emoji": await emoji.list_emoji(ctx.store, ctx.caller), "cache_ts": "0.000000"}


@method("admin.emoji.add")
async def admin_emoji_add(ctx: Context, args: Args) -> JSON:
    name = args.string("name", default="", max_len=200)
    await emoji.add(ctx.store, ctx.caller, name, url=args.string("url", default="", max_len=2000))
    return {}


@method("admin.emoji.addAlias")
async def admin_emoji_add_alias(ctx: Context, args: Args) -> JSON:
    name = args.string("name", default="", max_len=200)
    alias_for = args.string("alias_for", default="", max_len=200)
    if not alias_for.strip(": "):
        raise SlackError("no_alias_selected")
    await emoji.add(ctx.store, ctx.caller, name, alias_for=alias_for)
    return {}


@method("usergroups.list")
async def usergroups_list(ctx: Context, args: Args) -> JSON:
    groups = await usergroups.list_usergroups(
        ctx.store,
        ctx.caller,
        include_users=args.flag("include_users"),
        include_disabled=args.flag("include_disabled"),
        include_count=args.flag("include_count"),
    )
    return {"usergroups": groups}


@method("usergroups.create")
async def usergroups_create(ctx: Context, args: Args) -> JSON:
    users = args.items("users", max_items=1000) if "users" in args else []
    group = await usergroups.create(
        ctx.store,
        ctx.caller,
        args.string("name", max_len=300),
        args.opt_string("handle"),
        args.string("description", default="", max_len=2000),
        users,
    )
    return {"usergroup": group}
