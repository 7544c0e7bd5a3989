"""auth.*"""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import teams, users
from origin.service.auth import revoke_token
from wire.args import Args
from wire.errors import SlackError


@method("auth.test", tier=4)
async def auth_test(ctx: Context, args: Args) -> JSON:
    team = await teams.get_team(ctx.store, ctx.caller.team_id)
    user = await users.get_user(ctx.store, ctx.caller, ctx.caller.user_id)
    bot = {"bot_id": "B" + user["id"][1:]} if user["is_bot"] else {}
    return {
        **bot,
        "url": f"https://{team['domain']}.flannel.invalid/",
        "team": team["name"],
        "user": user["name"],
        "team_id": team["id"],
        "user_id": user["id"],
        "is_enterprise_install": False,
    }


@method("auth.revoke", tier=3)
async def auth_revoke(ctx: Context, args: Args) -> JSON:
    if args.flag("test"):
        return {"revoked": False}
    if not ctx.token:  # a service acting for a user (an edge's WebSocket query) holds no token
        raise SlackError("not_allowed_token_type", "auth.revoke needs the token itself: call it over HTTP")
    await revoke_token(ctx.store, ctx.token)
    return {"revoked": True}


@method("team.info", tier=3)
async def team_info(ctx: Context, args: Args) -> JSON:
    return {"team": await teams.get_team(ctx.store, ctx.caller.team_id)}
