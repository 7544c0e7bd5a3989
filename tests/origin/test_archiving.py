"""Archiving and unarchiving follow one rule, as in Slack: only a member of the channel may do
either (``not_in_channel`` otherwise), and ``#general`` is never archived."""

from __future__ import annotations

from typing import Any

from tests.origin.conftest import InProcess


async def call(app: InProcess, method: str, token: str, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = (await app.call(method, token, data=data)).json()
    return body


async def test_a_non_member_can_neither_archive_nor_unarchive_a_public_channel(app: InProcess) -> None:
    team = app.team
    channel = (await call(app, "conversations.create", team.alice.token, name="archivable"))["channel"]["id"]
    refused = await call(app, "conversations.archive", team.carol.token, channel=channel)
    assert refused == {"ok": False, "error": "not_in_channel"}
    assert (await call(app, "conversations.archive", team.alice.token, channel=channel))["ok"]

    refused = await call(app, "conversations.unarchive", team.carol.token, channel=channel)
    assert refused == {"ok": False, "error": "not_in_channel"}
    info = await call(app, "conversations.info", team.carol.token, channel=channel)
    assert info["channel"]["is_archived"] is True  # the refusal changed nothing

    assert (await call(app, "conversations.unarchive", team.alice.token, channel=channel))["ok"]
    info = await call(app, "conversations.info", team.carol.token, channel=channel)
    assert info["channel"]["is_archived"] is False


async def test_members_get_the_usual_archive_errors(app: InProcess) -> None:
    team = app.team
    assert (await call(app, "conversations.unarchive", team.alice.token, channel=team.general)) == {
        "ok": False,
        "error": "not_archived",
    }
    assert (await call(app, "conversations.archive", team.alice.token, channel=team.general)) == {
        "ok": False,
        "error": "cant_archive_general",
    }
    secret = await call(app, "conversations.unarchive", team.carol.token, channel=team.private)
    assert secret == {"ok": False, "error": "channel_not_found"}  # a private channel stays hidden
