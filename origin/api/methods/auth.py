"""auth.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import bots, teams, users
from origin.service.auth import revoke_token
from wire.args import Args
from wire.errors import SlackError


@method("auth.test")
async def auth_test(ctx: Context, args: Args) -> JSON:
    team = await teams.get_team(ctx.store, ctx.caller.team_id)
    user = await users.get_user(ctx.store, ctx.caller, ctx.caller.user_id)
    return auth_test_answer(team, str(user["id"]), str(user["name"]), bool(user["is_bot"]))


def auth_test_answer(team: JSON, user_id: str, user_name: str, is_bot: bool) -> JSON:
    """``auth.test``'s answer for a user of ``team`` (also the batch token check's)."""
    bot = {"bot_id": bots.bot_id_of(user_id)} if is_bot else {}
    return {
        **bot,
        "url": f"https://{team['domain']}.flannel.invalid/",
        "team": team["name"],
        "user": user_name,
        "team_id": team["id"],
        "user_id": user_id,
        "is_enterprise_install": False,
    }


@method("auth.revoke")
async def auth_revoke(ctx: Context, args: Args) -> JSON:
    if args.flag("test"):
        return {"revoked": False}
    if not ctx.token:  # a service acting for a user (an edge's WebSocket query) holds no token
        raise SlackError("not_allowed_token_type", "auth.revoke needs the token itself: call it over HTTP")
    await revoke_token(ctx.store, ctx.token)
    return {"revoked": True}


@method("team.info")
async def team_info(ctx: Context, args: Args) -> JSON:
    """The caller's workspace (``team``, if given, must name it: ``team_not_found`` otherwise)."""
    if "team" in args and args.string("team") != ctx.caller.team_id:
        raise SlackError("team_not_found")
    return {"team": teams.team_info(await teams.get_team(ctx.store, ctx.caller.team_id))}
