"""Notification prefs and Slack's dnd.* methods, through the in-process app on both databases."""

from __future__ import annotations

import time

from tests.origin.calls import call, events_after, form, head
from tests.origin.conftest import InProcess


async def test_prefs_defaults_then_merge(app: InProcess) -> None:
    alice = app.team.alice.token
    got = await call(app, "users.prefs.get", alice)
    assert got["ok"] and got["prefs"]["desktop"] == "mentions"
    assert got["prefs"]["email"] == {"enabled": False, "delay_s": None}
    assert got["prefs"]["dnd"]["enabled"] is False and got["prefs"]["channels"] == {}

    before = await head(app.store, app.team.id)
    change = {"desktop": "all", "email": {"enabled": True, "delay_s": 60}, "highlight_words": ["Deploy"]}
    got = await call(app, "users.prefs.set", alice, prefs=change)
    assert got["ok"], got
    assert got["prefs"]["email"] == {"enabled": True, "delay_s": 60}
    got = await form(app, "users.prefs.set", alice, prefs={"email": {"delay_s": 120}})
    assert got["prefs"]["email"] == {"enabled": True, "delay_s": 120}  # merged one level down
    assert got["prefs"]["desktop"] == "all" and got["prefs"]["highlight_words"] == ["Deploy"]
    events = await events_after(app.store, app.team.id, before)
    assert [e["type"] for e in events] == ["notification_prefs_changed"] * 2
    assert all(e["user"] == app.team.alice.id for e in events)
    # another user's prefs are untouched
    bob = await call(app, "users.prefs.get", app.team.bob.token)
    assert bob["prefs"]["desktop"] == "mentions"


async def test_channel_overrides_and_their_removal(app: InProcess) -> None:
    bob = app.team.bob.token
    got = await call(app, "users.prefs.set", bob, prefs={"channels": {app.team.general: {"muted": True}}})
    assert got["prefs"]["channels"] == {app.team.general: {"desktop": "default", "muted": True}}
    got = await call(app, "users.prefs.set", bob, prefs={"channels": {app.team.private: {"desktop": "all"}}})
    assert set(got["prefs"]["channels"]) == {app.team.general, app.team.private}
    got = await call(app, "users.prefs.set", bob, prefs={"channels": {app.team.general: None}})
    assert set(got["prefs"]["channels"]) == {app.team.private}


async def test_bad_prefs_are_refused_with_the_field_named(app: InProcess) -> None:
    carol = app.team.carol.token
    bad = [
        ({"desktop": "loud"}, "prefs.desktop"),
        ({"email": {"enabled": "yes"}}, "prefs.email.enabled"),
        ({"email": {"delay_s": -1}}, "prefs.email.delay_s"),
        ({"highlight_words": "deploy"}, "prefs.highlight_words"),
        ({"highlight_words": ["x" * 51]}, "prefs.highlight_words"),
        ({"dnd": {"start": "25:00"}}, "prefs.dnd.start"),
        ({"dnd": {"start": "08:00", "end": "08:00"}}, "prefs.dnd.end"),
        ({"dnd": {"when_ends": "later"}}, "prefs.dnd.when_ends"),
        ({"channels": {"nope": {}}}, "prefs.channels"),
        ({"channels": {app.team.general: {"muted": 1}}}, f"prefs.channels.{app.team.general}.muted"),
        ({"colour": "red"}, "prefs.colour"),
        # carol is not in the private channel: she may not even name it
        ({"channels": {app.team.private: {"muted": True}}}, f"prefs.channels.{app.team.private}"),
    ]
    for prefs, field in bad:
        got = await call(app, "users.prefs.set", carol, prefs=prefs)
        assert got == {"ok": False, "error": "invalid_arguments"} or (
            got["ok"] is False and got["error"] == "invalid_arguments"
        ), (prefs, got)
        assert field in str(got), (prefs, got)
    got = await call(app, "users.prefs.set", carol)
    assert got["error"] == "invalid_arguments"
    got = await form(app, "users.prefs.set", carol, prefs="[1]")
    assert got["error"] == "invalid_arguments"
    assert (await call(app, "users.prefs.get", carol))["prefs"]["desktop"] == "mentions"
    assert (await call(app, "users.prefs.get", "xoxp-bogus"))["error"] in ("invalid_auth", "not_authed")


async def test_dnd_info_defaults_and_schedule(app: InProcess) -> None:
    alice = app.team.alice.token
    got = await call(app, "dnd.info", alice)
    assert got["ok"] and got["dnd_enabled"] is False and got["snooze_enabled"] is False
    before = await head(app.store, app.team.id)
    await call(
        app, "users.prefs.set", alice, prefs={"dnd": {"enabled": True, "start": "22:00", "end": "08:00"}}
    )
    got = await call(app, "dnd.info", alice)
    assert got["dnd_enabled"] is True
    assert got["next_dnd_end_ts"] - got["next_dnd_start_ts"] == 10 * 3600
    assert got["next_dnd_end_ts"] > time.time()
    kinds = [e["type"] for e in await events_after(app.store, app.team.id, before)]
    assert kinds == ["dnd_updated", "dnd_updated_user", "notification_prefs_changed"]
    # another member sees the schedule, never the snooze
    other = await call(app, "dnd.info", app.team.bob.token, user=app.team.alice.id)
    assert other["dnd_enabled"] is True and "snooze_enabled" not in other
    assert (await call(app, "dnd.info", alice, user="UNOBODY"))["error"] == "user_not_found"


async def test_snooze_and_its_events(app: InProcess) -> None:
    alice, me = app.team.alice.token, app.team.alice.id
    assert (await call(app, "dnd.setSnooze", alice))["error"] == "missing_duration"
    assert (await call(app, "dnd.setSnooze", alice, num_minutes="soon"))["error"] == "invalid_arguments"
    assert (await call(app, "dnd.setSnooze", alice, num_minutes=0))["error"] == "invalid_arguments"
    assert (await call(app, "dnd.setSnooze", alice, num_minutes=10**7))["error"] == "too_long"
    assert (await call(app, "dnd.endSnooze", alice))["error"] == "snooze_not_active"

    before = await head(app.store, app.team.id)
    got = await form(app, "dnd.setSnooze", alice, num_minutes="1")
    assert got["ok"] and got["snooze_enabled"] is True and got["snooze_is_indefinite"] is False
    assert 59 <= got["snooze_remaining"] <= 60 and got["snooze_endtime"] >= time.time() + 59
    info = await call(app, "dnd.info", alice)
    assert info["snooze_enabled"] is True and info["snooze_endtime"] == got["snooze_endtime"]
    events = await events_after(app.store, app.team.id, before)
    assert [e["type"] for e in events] == ["dnd_updated"]  # a snooze is private to its user
    assert events[0]["user"] == me and events[0]["dnd_status"]["snooze_enabled"] is True

    ended = await call(app, "dnd.endSnooze", alice)
    assert ended["ok"] and ended["snooze_enabled"] is False and ended["dnd_enabled"] is False
    assert (await call(app, "dnd.info", alice))["snooze_enabled"] is False


async def test_end_dnd_ends_the_window_in_progress(app: InProcess) -> None:
    alice = app.team.alice.token
    # a window that covers now, whatever the hour: 00:00 to 23:59
    await call(
        app, "users.prefs.set", alice, prefs={"dnd": {"enabled": True, "start": "00:00", "end": "23:59"}}
    )
    await call(app, "dnd.setSnooze", alice, num_minutes=30)
    info = await call(app, "dnd.info", alice)
    if info["next_dnd_start_ts"] <= time.time() < info["next_dnd_end_ts"]:
        before = await head(app.store, app.team.id)
        got = await call(app, "dnd.endDnd", alice)
        assert got == {"ok": True}
        after = await call(app, "dnd.info", alice)
        assert after["snooze_enabled"] is False and after["dnd_enabled"] is True
        assert after["next_dnd_start_ts"] > time.time()  # the next window, not this one
        kinds = [e["type"] for e in await events_after(app.store, app.team.id, before)]
        assert kinds == ["dnd_updated", "dnd_updated_user"]


async def test_team_info(app: InProcess) -> None:
    alice, bob = app.team.alice, app.team.bob
    await call(app, "users.prefs.set", bob.token, prefs={"dnd": {"enabled": True}})
    await call(app, "dnd.setSnooze", bob.token, num_minutes=5)
    got = await form(app, "dnd.teamInfo", alice.token, users=f"{alice.id},{bob.id},UNOBODY")
    assert got["ok"] and set(got["users"]) == {alice.id, bob.id}
    assert got["users"][bob.id]["dnd_enabled"] is True and "snooze_enabled" not in got["users"][bob.id]
    assert got["users"][alice.id]["dnd_enabled"] is False
    assert (await call(app, "dnd.teamInfo", alice.token))["error"] == "invalid_arguments"
    many = ",".join(f"U{i}" for i in range(51))
    assert (await call(app, "dnd.teamInfo", alice.token, users=many))["error"] == "invalid_arguments"


async def test_team_info_never_crosses_workspaces(app: InProcess) -> None:
    from tests.factories import make_team

    other = await make_team(app.store, ("dave", "erin"))
    got = await call(app, "dnd.teamInfo", app.team.alice.token, users=other.users[0].id)
    assert got == {"ok": True, "users": {}}
    assert (await call(app, "dnd.info", app.team.alice.token, user=other.users[0].id))[
        "error"
    ] == "user_not_found"
