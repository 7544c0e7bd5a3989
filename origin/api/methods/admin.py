"""admin.imports.*, admin.exports.*, admin.jobs.*: a workspace admin's import and export jobs
(origin/transfer/jobs.py). They run in the background; ``admin.jobs.status`` shows their state,
progress (done / total), report and error."""

from __future__ import annotations

from origin.api.registry import JSON, Context, method
from origin.service import users
from origin.transfer import jobs
from origin.transfer.jobs import Transfers
from wire.args import Args
from wire.errors import SlackError


async def _admin(ctx: Context) -> Transfers:
    """Only a workspace admin's user token; a bot token is refused whatever its user."""
    if ctx.token.startswith("xoxb-"):
        raise SlackError("not_allowed_token_type", "admin methods need a user token")
    user = await users.get_user(ctx.store, ctx.caller, ctx.caller.user_id)
    if user["is_bot"]:
        raise SlackError("not_allowed_token_type", "admin methods need a user token")
    if not ctx.caller.is_admin:
        raise SlackError("not_an_admin")
    if ctx.transfers is None:
        raise SlackError("not_supported", "this origin runs no transfer jobs")
    return ctx.transfers


def _team(ctx: Context, args: Args) -> str:
    team = args.opt_string("team_id") or args.opt_string("team")
    if team is not None and team != ctx.caller.team_id:
        raise SlackError("team_access_denied", "an admin imports and exports their own workspace")
    return ctx.caller.team_id


@method("admin.imports.start")
async def admin_imports_start(ctx: Context, args: Args) -> JSON:
    transfers = await _admin(ctx)
    team = _team(ctx, args)
    path = args.string("path", max_len=4096)
    return {"job": await transfers.start_import(team, path)}


@method("admin.exports.start")
async def admin_exports_start(ctx: Context, args: Args) -> JSON:
    transfers = await _admin(ctx)
    team = _team(ctx, args)
    channels = args.items("channels", max_items=10_000) if "channels" in args else None
    oldest = args.ts("oldest", error="invalid_ts_oldest") if "oldest" in args else None
    latest = args.ts("latest", error="invalid_ts_latest") if "latest" in args else None
    if oldest is not None and latest is not None and oldest > latest:
        raise SlackError("invalid_arguments", "oldest is after latest")
    return {"job": await transfers.start_export(team, channels, oldest, latest)}


@method("admin.jobs.status")
async def admin_jobs_status(ctx: Context, args: Args) -> JSON:
    """``job``: that job; without it, the workspace's latest jobs (``limit``, newest first)."""
    await _admin(ctx)
    team = _team(ctx, args)
    if "job" in args:
        return {"job": await jobs.get_job(ctx.store, team, args.id("job", "job_not_found"))}
    limit = args.integer("limit", 50, 1, 1000)
    return {"jobs": await jobs.list_jobs(ctx.store, team, limit)}


@method("admin.jobs.cancel")
async def admin_jobs_cancel(ctx: Context, args: Args) -> JSON:
    await _admin(ctx)
    team = _team(ctx, args)
    return {"job": await jobs.cancel_job(ctx.store, team, args.id("job", "job_not_found"))}
