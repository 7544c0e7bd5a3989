"""dnd.* (Slack's) and users.prefs.get|set (ours: the notification preferences)."""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import notifyprefs
from wire.args import Args
from wire.errors import SlackError, invalid_arguments

MAX_TEAM_INFO_USERS = 50


@method("dnd.info")
async def dnd_info(ctx: Context, args: Args) -> JSON:
    user = args.id("user", "user_not_found") if "user" in args else None
    return await notifyprefs.info(ctx.store, ctx.caller, user)


@method("dnd.teamInfo")
async def dnd_team_info(ctx: Context, args: Args) -> JSON:
    users = args.items("users", max_items=MAX_TEAM_INFO_USERS)
    return await notifyprefs.team_info(ctx.store, ctx.caller, users)


@method("dnd.setSnooze")
async def dnd_set_snooze(ctx: Context, args: Args) -> JSON:
    if "num_minutes" not in args:
        raise SlackError("missing_duration", "give num_minutes")
    value = args.values.get("num_minutes")
    try:
        minutes = int(str(value))
    except ValueError:
        raise invalid_arguments("num_minutes", "must be an integer") from None
    if minutes < 1:
        raise invalid_arguments("num_minutes", "must be at least 1")
    if minutes > notifyprefs.MAX_SNOOZE_MIN:
        raise SlackError("too_long", f"num_minutes is at most {notifyprefs.MAX_SNOOZE_MIN}")
    return await notifyprefs.set_snooze(ctx.store, ctx.caller, minutes)


@method("dnd.endSnooze")
async def dnd_end_snooze(ctx: Context, args: Args) -> JSON:
    return await notifyprefs.end_snooze(ctx.store, ctx.caller)


@method("dnd.endDnd")
async def dnd_end_dnd(ctx: Context, args: Args) -> JSON:
    await notifyprefs.end_dnd(ctx.store, ctx.caller)
    return {}


@method("users.prefs.get")
async def users_prefs_get(ctx: Context, args: Args) -> JSON:
    return {"prefs": await notifyprefs.get_prefs(ctx.store, ctx.caller)}


@method("users.prefs.set")
async def users_prefs_set(ctx: Context, args: Args) -> JSON:
    change = args.obj("prefs")
    if change is None:
        raise invalid_arguments("prefs", "is required")
    return {"prefs": await notifyprefs.set_prefs(ctx.store, ctx.caller, change)}
