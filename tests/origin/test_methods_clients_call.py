"""Methods real clients call (issue 15): ``bots.info``, ``emoji.list`` (and ``admin.emoji.add``),
``users.conversations``, ``usergroups.list`` (and ``usergroups.create``),
``conversations.close``, ``team.info``; with Slack's shapes and errors, registered with the
rate-limit tiers Slack gives them.

In-process origin on SQLite and on MariaDB (two shards).
"""

from __future__ import annotations

from origin.api.registry import load_methods
from origin.service import teams, users
from origin.service.auth import issue_token
from tests.factories import make_team
from tests.origin.calls import call, events_after, form, head
from tests.origin.conftest import InProcess


async def _user(app: InProcess, name: str, **flags: bool) -> tuple[str, str]:
    user = await users.create_user(app.store, app.team.id, name, name.title(), **flags)
    token = await issue_token(app.store, app.team.id, user["id"], bot=flags.get("is_bot", False))
    return user["id"], token


def test_the_new_methods_are_registered_with_slacks_tiers() -> None:
    tiers = {name: m.tier for name, m in load_methods().items()}
    expected = {
        "chat.postMessage": 4,
        "chat.meMessage": 3,
        "chat.postEphemeral": 4,
        "chat.getPermalink": 4,
        "bots.info": 3,
        "emoji.list": 2,
        "admin.emoji.add": 2,
        "admin.emoji.addAlias": 2,
        "users.conversations": 3,
        "usergroups.list": 2,
        "usergroups.create": 2,
        "pins.add": 2,
        "pins.remove": 2,
        "pins.list": 2,
        "reactions.list": 2,
        "conversations.close": 2,
        "team.info": 3,
    }
    assert {name: tiers.get(name) for name in expected} == expected


async def test_bots_info(app: InProcess) -> None:
    bot_user, bot_token = await _user(app, "deploybot", is_bot=True)
    bot_id = "B" + bot_user[1:]
    assert (await call(app, "auth.test", bot_token))["bot_id"] == bot_id
    body = await call(app, "bots.info", app.team.alice.token, bot=bot_id)
    assert body["ok"], body
    bot = body["bot"]
    assert bot["id"] == bot_id and bot["user_id"] == bot_user and bot["name"] == "deploybot"
    assert bot["deleted"] is False and bot["app_id"].startswith("A") and isinstance(bot["updated"], int)
    assert set(bot["icons"]) == {"image_36", "image_48", "image_72"}
    assert (await call(app, "bots.info", bot_token))["bot"]["id"] == bot_id  # no bot: the caller's own
    for unknown in ("B" + app.team.alice.id[1:], "BNOSUCHBOT", app.team.alice.id, "B"):
        assert (await call(app, "bots.info", app.team.alice.token, bot=unknown))["error"] == "bot_not_found"
    assert (await call(app, "bots.info", app.team.alice.token))["error"] == "bot_not_found"  # not a bot
    other = await _other_team_bot(app)
    assert (await call(app, "bots.info", app.team.alice.token, bot=other))["error"] == "bot_not_found"


async def _other_team_bot(app: InProcess) -> str:
    team = await teams.create_workspace(app.store, "Elsewhere")
    user = await users.create_user(app.store, team["id"], "otherbot", is_bot=True)
    return "B" + str(user["id"])[1:]


async def test_emoji_list_is_the_workspaces_custom_emoji(app: InProcess) -> None:
    team = app.team
    assert await call(app, "emoji.list", team.bob.token) == {"ok": True, "emoji": {}, "cache_ts": "0.000000"}
    refused = await call(app, "admin.emoji.add", team.bob.token, name="party-parrot", url="https://e.x/p.gif")
    assert refused["error"] == "not_an_admin"
    _, admin = await _user(app, "root", is_admin=True)
    before = await head(app.store, team.id)
    assert (await form(app, "admin.emoji.add", admin, name=":party-parrot:", url="https://e.x/p.gif"))["ok"]
    assert (await call(app, "admin.emoji.addAlias", admin, name="parrot", alias_for="party-parrot"))["ok"]
    events = await events_after(app.store, team.id, before)
    assert [(e["type"], e["subtype"], e["name"], e["value"]) for e in events] == [
        ("emoji_changed", "add", "party-parrot", "https://e.x/p.gif"),
        ("emoji_changed", "add", "parrot", "alias:party-parrot"),
    ]
    listed = await call(app, "emoji.list", team.bob.token)
    assert listed["emoji"] == {"party-parrot": "https://e.x/p.gif", "parrot": "alias:party-parrot"}
    errors = [
        ({"name": "parrot", "url": "https://e.x/q.gif"}, "error_name_taken"),
        ({"name": "Parrot2", "url": "https://e.x/q.gif"}, "error_lower_case_names_only"),
        ({"name": "bad name", "url": "https://e.x/q.gif"}, "error_bad_name_i18n"),
        ({"name": "", "url": "https://e.x/q.gif"}, "error_missing_name"),
        ({"name": "nourl"}, "error_bad_format"),
        ({"name": "ftp", "url": "ftp://e.x/q.gif"}, "error_bad_format"),
    ]
    for args, error in errors:
        assert (await call(app, "admin.emoji.add", admin, **args))["error"] == error, args
    alias = await call(app, "admin.emoji.addAlias", admin, name="ghost", alias_for="nothing")
    assert alias["error"] == "error_invalid_alias"
    assert len((await call(app, "emoji.list", team.bob.token))["emoji"]) == 2
    # another workspace has its own (none)
    other = await make_team(app.store, ("dave", "erin", "frank"))
    assert (await call(app, "emoji.list", other.alice.token))["emoji"] == {}


async def test_usergroups_list_answers_what_there_is(app: InProcess) -> None:
    team = app.team
    assert await call(app, "usergroups.list", team.bob.token) == {"ok": True, "usergroups": []}
    refused = await call(app, "usergroups.create", team.bob.token, name="Ops")
    assert refused["error"] == "permission_denied"
    _, admin = await _user(app, "root", is_admin=True)
    before = await head(app.store, team.id)
    created = await form(
        app,
        "usergroups.create",
        admin,
        name="On Call",
        handle="oncall",
        users=f"{team.alice.id},{team.bob.id}",
    )
    assert created["ok"], created
    group = created["usergroup"]
    assert group["id"].startswith("S") and group["handle"] == "oncall" and group["is_usergroup"] is True
    [event] = await events_after(app.store, team.id, before)
    assert event["type"] == "subteam_created" and event["subteam"]["id"] == group["id"]
    assert sorted(event["subteam"]["users"]) == sorted([team.alice.id, team.bob.id])

    listed = await call(app, "usergroups.list", team.carol.token)
    [only] = listed["usergroups"]
    assert only["id"] == group["id"] and only["name"] == "On Call" and "users" not in only
    full = await call(app, "usergroups.list", team.carol.token, include_users=True, include_count=True)
    assert sorted(full["usergroups"][0]["users"]) == sorted([team.alice.id, team.bob.id])
    assert full["usergroups"][0]["user_count"] == 2
    assert (await call(app, "usergroups.create", admin, name="On Call"))["error"] == "name_already_exists"
    assert (await call(app, "usergroups.create", admin, name="Other", handle="oncall"))[
        "error"
    ] == "handle_already_exists"
    assert (await call(app, "usergroups.create", admin, name="X", users="U0NOBODY"))[
        "error"
    ] == "user_not_found"


async def test_users_conversations_shows_only_what_the_caller_may_see(app: InProcess) -> None:
    team = app.team
    dm = (await call(app, "conversations.open", team.alice.token, users=team.bob.id))["channel"]["id"]
    archived = (await call(app, "conversations.create", team.bob.token, name="old-stuff"))["channel"]["id"]
    await call(app, "conversations.archive", team.bob.token, channel=archived)
    all_types = "public_channel,private_channel,mpim,im"

    mine = await call(app, "users.conversations", team.bob.token, types=all_types)
    assert mine["ok"], mine
    assert {c["id"] for c in mine["channels"]} == {team.general, team.private, dm, archived}
    im = next(c for c in mine["channels"] if c["id"] == dm)
    assert im["is_im"] and im["user"] == team.alice.id and im["is_open"] is True
    default = await call(app, "users.conversations", team.bob.token)  # public channels only
    assert {c["id"] for c in default["channels"]} == {team.general, archived}
    live = await call(app, "users.conversations", team.bob.token, types=all_types, exclude_archived=True)
    assert archived not in {c["id"] for c in live["channels"]}

    # carol asking about bob: his public channels only (not the private one, not his DM)
    seen = await call(app, "users.conversations", team.carol.token, user=team.bob.id, types=all_types)
    assert {c["id"] for c in seen["channels"]} == {team.general, archived}
    # alice shares the private channel and the DM with bob
    shared = await call(app, "users.conversations", team.alice.token, user=team.bob.id, types=all_types)
    assert {c["id"] for c in shared["channels"]} == {team.general, team.private, dm, archived}

    pages, cursor = [], ""
    while True:
        page = await call(
            app,
            "users.conversations",
            team.bob.token,
            types=all_types,
            limit=1,
            **({"cursor": cursor} if cursor else {}),
        )
        pages += [c["id"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(pages) == sorted(c["id"] for c in mine["channels"]) and len(pages) == 4
    bad = await call(app, "users.conversations", team.bob.token, user="U0NOBODY")
    assert bad["error"] == "user_not_found"
    assert (await call(app, "users.conversations", team.bob.token, types="dm"))[
        "error"
    ] == "invalid_arguments"


async def test_conversations_close(app: InProcess) -> None:
    team = app.team
    dm = (await call(app, "conversations.open", team.alice.token, users=team.bob.id))["channel"]["id"]
    before = await head(app.store, team.id)
    assert await call(app, "conversations.close", team.alice.token, channel=dm) == {"ok": True}
    [closed] = await events_after(app.store, team.id, before)
    assert closed == {**closed, "type": "im_close", "user": team.alice.id, "channel": dm}
    again = await call(app, "conversations.close", team.alice.token, channel=dm)
    assert again == {"ok": True, "no_op": True, "already_closed": True}
    assert (await call(app, "conversations.info", team.alice.token, channel=dm))["channel"][
        "is_open"
    ] is False
    assert (await call(app, "conversations.info", team.bob.token, channel=dm))["channel"]["is_open"] is True

    # opening it again is not "already open"; a message reopens it for whoever closed it
    reopened = await call(app, "conversations.open", team.alice.token, users=team.bob.id)
    assert reopened["ok"] and "already_open" not in reopened
    assert (await events_after(app.store, team.id, before))[-1]["type"] == "im_open"
    assert (await call(app, "conversations.close", team.alice.token, channel=dm))["ok"]
    await call(app, "chat.postMessage", team.bob.token, channel=dm, text="you there?")
    assert (await call(app, "conversations.info", team.alice.token, channel=dm))["channel"]["is_open"] is True

    mpim = await call(app, "conversations.open", team.alice.token, users=f"{team.bob.id},{team.carol.id}")
    before = await head(app.store, team.id)
    assert (await call(app, "conversations.close", team.carol.token, channel=mpim["channel"]["id"]))["ok"]
    assert (await events_after(app.store, team.id, before))[0]["type"] == "mpim_close"

    refused = await call(app, "conversations.close", team.alice.token, channel=team.general)
    assert refused["error"] == "method_not_supported_for_channel_type"
    assert (await call(app, "conversations.close", team.carol.token, channel=dm))[
        "error"
    ] == "channel_not_found"


async def test_team_info(app: InProcess) -> None:
    team = app.team
    body = await call(app, "team.info", team.bob.token)
    info = body["team"]
    assert info["id"] == team.id and info["name"] == "Test Team" and info["domain"] == "test-team"
    assert info["email_domain"] == "" and info["icon"]["image_default"] is True
    assert set(info["icon"]) >= {"image_34", "image_44", "image_68", "image_88", "image_102", "image_132"}
    assert (await call(app, "team.info", team.bob.token, team=team.id))["team"]["id"] == team.id
    assert (await call(app, "team.info", team.bob.token, team="T0OTHER"))["error"] == "team_not_found"
