"""``flannel admin ...``: one-shot administration, each printing one JSON object."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from flannel_cli.options import add_database, add_flag, database_urls
from origin.service import conversations, teams, users
from origin.service.auth import Caller, issue_token, revoke_token
from origin.store.shards import Store
from wire.errors import SlackError

TEAM = "workspace id"
USER = "user id"


def add_parser(sub: Any) -> None:
    admin = sub.add_parser("admin", help="administer workspaces, users, channels and tokens")
    cmds = admin.add_subparsers(dest="admin_command", required=True)

    p = cmds.add_parser("create-workspace", help="create a workspace")
    add_flag(p, "--name", required=True, help="workspace name")
    add_flag(p, "--domain", help="workspace domain")

    p = cmds.add_parser("create-user", help="create a user in a workspace")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--name", required=True, help="username")
    add_flag(p, "--real-name", default="", help="full name")
    add_flag(p, "--email", help="email address")
    add_flag(p, "--admin", action="store_true", help="a workspace admin")
    add_flag(p, "--bot", action="store_true", help="a bot user")

    p = cmds.add_parser("create-channel", help="create a channel (the creator joins it)")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--creator", required=True, help=USER)
    add_flag(p, "--name", required=True, help="channel name")
    add_flag(p, "--private", action="store_true", help="a private channel")

    p = cmds.add_parser("join", help="add a user to a channel")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--user", required=True, help=USER)
    add_flag(p, "--channel", required=True, help="channel id")

    p = cmds.add_parser("deactivate-user", help="deactivate a user (their tokens stop working)")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--user", required=True, help=USER)
    add_flag(p, "--reactivate", action="store_true", help="reactivate instead")

    p = cmds.add_parser("issue-token", help="issue a token for a user")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--user", required=True, help=USER)

    p = cmds.add_parser("revoke-token", help="revoke a token")
    add_flag(p, "--token", required=True, help="the token to revoke")

    p = cmds.add_parser("set-password", help="set a user's password for the browser client's sign-in")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--user", required=True, help=USER)
    add_flag(p, "--password", required=True, help="the new password (8 characters or more)")

    p = cmds.add_parser("sign-in-link", help="print a one-time sign-in link to the browser client")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--user", required=True, help=USER)
    add_flag(
        p, "--client-url", default="http://127.0.0.1:8003", help="the router's URL, which serves the client"
    )
    add_flag(p, "--ttl", type=int, default=86400, help="seconds the link stays valid")

    p = cmds.add_parser("import", help="import a Slack export (zip or folder) as a job")
    p.add_argument("path", help="the export zip or folder")  # a positional: no variable
    add_flag(p, "--team", help=TEAM + " to merge into (default: a new workspace)")
    add_flag(p, "--team-name", default="Imported", help="name of the new workspace")

    p = cmds.add_parser("export", help="export a workspace as a Slack export zip, as a job")
    add_flag(p, "--team", required=True, help=TEAM)
    add_flag(p, "--out", required=True, help="the zip file to write")
    add_flag(p, "--channel", action="append", help="only this channel (id or name; repeatable)")

    p = cmds.add_parser("jobs", help="list a workspace's import and export jobs")
    add_flag(p, "--team", required=True, help=TEAM)

    p = cmds.add_parser(
        "reindex",
        help="rebuild the search index from the database, online: a running origin keeps "
        "answering from the old index and switches when the new one is ready",
    )
    add_flag(p, "--search-dir", required=True, help="the origin's --search-dir")

    for parser in cmds.choices.values():
        add_database(parser)


async def run(args: argparse.Namespace) -> int:
    store = await Store.open(database_urls(args))
    try:
        result = await _dispatch(store, args)
    except SlackError as exc:
        print(orjson.dumps({"ok": False, "error": exc.code, "detail": exc.detail}).decode())
        return 1
    finally:
        await store.close()
    sys.stdout.write(orjson.dumps({"ok": True, **result}).decode() + "\n")
    return 0


async def _dispatch(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    cmd = args.admin_command
    if cmd == "create-workspace":
        return {"team": await teams.create_workspace(store, args.name, args.domain)}
    if cmd == "create-user":
        user = await users.create_user(
            store, args.team, args.name, args.real_name, args.email, args.bot, args.admin
        )
        return {"user": user}
    if cmd == "create-channel":
        caller = Caller(args.team, args.creator, "")
        await users.get_user(store, caller, args.creator)
        return {"channel": await conversations.create(store, caller, args.name, args.private)}
    if cmd == "join":
        return await _join(store, args.team, args.user, args.channel)
    if cmd == "deactivate-user":
        return {"user": await users.set_deleted(store, args.team, args.user, not args.reactivate)}
    if cmd == "issue-token":
        return {
            "token": await issue_token(store, args.team, args.user),
            "team_id": args.team,
            "user_id": args.user,
        }
    if cmd == "revoke-token":
        caller = await revoke_token(store, args.token)
        return {"revoked": True, "team_id": caller.team_id, "user_id": caller.user_id}
    if cmd in ("set-password", "sign-in-link"):
        return await _signin(store, args)
    if cmd in ("import", "export", "jobs"):
        return await _transfer(store, args)
    if cmd == "reindex":
        return await _reindex(store, args.search_dir)
    raise SlackError("unknown_method", cmd)


async def _reindex(store: Store, search_dir: str) -> dict[str, Any]:
    import time

    from origin.search.generations import build

    started = time.perf_counter()
    path, n = await build(store, search_dir)
    return {"generation": str(path), "messages": n, "seconds": round(time.perf_counter() - started, 3)}


async def _signin(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    from origin.service import signin

    if args.admin_command == "set-password":
        email = await signin.set_password(store, args.team, args.user, args.password)
        return {"team_id": args.team, "user_id": args.user, "email": email}
    secret = await signin.create_link(store, args.team, args.user, args.ttl)
    return {"link": signin_url(args.client_url, secret), "expires_in": args.ttl}


def signin_url(client_url: str, secret: str) -> str:
    """The link a person opens: the secret rides in the fragment, which no server logs."""
    return f"{client_url.rstrip('/')}/#signin={secret}"


async def _transfer(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    """Import and export run as jobs (recorded, listed by ``jobs``), here in this process."""
    from origin.transfer import jobs

    if args.admin_command == "jobs":
        return {"jobs": await jobs.list_jobs(store, args.team)}
    if args.admin_command == "import":
        team = args.team or (await teams.create_workspace(store, args.team_name))["id"]
        job = await jobs.create_job(store, team, "import", {"path": str(args.path)})
    else:
        team = args.team
        params = {"out": str(args.out), "channels": args.channel}
        job = await jobs.create_job(store, team, "export", params)
    return {"job": await jobs.run_job(store, team, job["id"])}


async def _join(store: Store, team: str, user: str, channel: str) -> dict[str, Any]:
    """Admin join: private channels too (an operator adds the user, not the user itself)."""
    caller = Caller(team, user, "")
    await users.get_user(store, caller, user)
    channel_obj = await conversations.admin_add_member(store, team, channel, user)
    return {"channel": channel_obj}
