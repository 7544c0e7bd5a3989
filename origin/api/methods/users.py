"""users.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import listing, presence, users
from wire.args import Args
from wire.cursors import metadata, page
from wire.errors import SlackError, invalid_arguments


@method("users.info")
async def users_info(ctx: Context, args: Args) -> JSON:
    user_id = args.id("user", "user_not_found")
    return {"user": await users.get_user(ctx.store, ctx.caller, user_id)}


@method("users.list")
async def users_list(ctx: Context, args: Args) -> JSON:
    limit, after = page(args, "user", default=200)
    members, next_cursor = await users.list_users(ctx.store, ctx.caller, limit, after)
    return {"members": members, "cache_ts": 0, **metadata(next_cursor)}


@method("users.lookupByEmail")
async def users_lookup_by_email(ctx: Context, args: Args) -> JSON:
    email = args.string("email", max_len=255)
    return {"user": await users.lookup_by_email(ctx.store, ctx.caller, email)}


@method("users.profile.get")
async def users_profile_get(ctx: Context, args: Args) -> JSON:
    user_id = args.id("user", "user_not_found") if "user" in args else ctx.caller.user_id
    user = await users.get_user(ctx.store, ctx.caller, user_id)
    return {"profile": user["profile"]}


@method("users.profile.set")
async def users_profile_set(ctx: Context, args: Args) -> JSON:
    if "user" in args and args.string("user") != ctx.caller.user_id:
        raise SlackError("cannot_update_admin_user", "only your own profile can be set")
    changes = args.obj("profile")
    if changes is None:
        if "name" not in args:
            raise invalid_arguments("profile", "give a profile object, or name and value")
        changes = {args.string("name"): args.string("value", default="")}
    user = await users.set_profile(ctx.store, ctx.caller, changes)
    return {"profile": user["profile"]}


@method("users.conversations")
async def users_conversations(ctx: Context, args: Args) -> JSON:
    user_id = args.id("user", "user_not_found") if "user" in args else ctx.caller.user_id
    types = listing.parse_types(args.opt_string("types"))
    limit, after = page(args, "conv", default=100)
    channels, next_cursor = await listing.user_conversations(
        ctx.store, ctx.caller, user_id, types, args.flag("exclude_archived"), limit, after
    )
    return {"channels": channels, **metadata(next_cursor)}


@method("users.getPresence")
async def users_get_presence(ctx: Context, args: Args) -> JSON:
    user_id = args.id("user", "user_not_found") if "user" in args else ctx.caller.user_id
    return await presence.get_presence(ctx.store, ctx.caller, user_id)


@method("users.setPresence")
async def users_set_presence(ctx: Context, args: Args) -> JSON:
    value = args.string("presence")
    if value not in ("auto", "away"):
        raise invalid_arguments("presence", "must be auto or away")
    await presence.set_presence(ctx.store, ctx.caller, value)
    return {}


@method("users.setActive")
async def users_set_active(ctx: Context, args: Args) -> JSON:
    """Slack's: marks the user active. Activity is counted on their connections (any client
    frame); over HTTP there is no connection to mark, so it only answers ok, as Slack does."""
    return {}
