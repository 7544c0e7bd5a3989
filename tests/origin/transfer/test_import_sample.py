"""The real sample export imports, is visible through the Web API, and imports idempotently."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from origin.service import teams
from origin.transfer.importer import import_export
from tests.origin.conftest import InProcess
from tests.origin.transfer.test_archive import SAMPLE


async def history(app: InProcess, token: str, channel: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = (
            await app.call(
                "conversations.history", token, data={"channel": channel, "limit": 100, "cursor": cursor}
            )
        ).json()
        assert body["ok"], body
        messages += body["messages"]
        cursor = body.get("response_metadata", {}).get("next_cursor", "")
        if not cursor:
            return messages


async def test_sample_imports_and_is_visible(app: InProcess) -> None:
    team_id, report = await import_export(app.store, SAMPLE, app.team.id)
    assert team_id == app.team.id
    counts = report.as_json()["imported"]
    assert counts["user"] == 4
    assert counts["channel"] == 2
    assert counts["message"] == 158
    assert counts["reaction"] >= 1
    assert report.skipped_count("message") == 0

    token = app.team.alice.token
    listed = (await app.call("conversations.list", token, data={"limit": 100})).json()
    names = {c["name"]: c["id"] for c in listed["channels"]}
    assert {"enrique", "traveling-sailor"} <= set(names)
    everything = []
    for name in ("enrique", "traveling-sailor"):
        everything += await history(app, token, names[name])
    assert len(everything) == 158
    subtypes = {m.get("subtype") for m in everything}
    assert {"channel_join", "bot_message", "file_share"} <= subtypes
    assert any(m.get("reactions") for m in everything)
    assert any("edited" in m for m in everything)
    bot = next(m for m in everything if m.get("subtype") == "bot_message" and m.get("attachments"))
    assert bot["attachments"][0]["fallback"]

    users = (await app.call("users.list", token)).json()["members"]
    # the export's ids (U0BM...) unless an earlier import on this database took them (remapped)
    ours = {m.id for m in app.team.users}
    imported = {u["id"]: u for u in users if u["id"] not in ours}
    assert len(imported) == 4
    assert any(u["profile"].get("title") == "Eat Monkeys" for u in imported.values())

    # search sees the imported messages (its index follows the change log: soon, not at once)
    for _ in range(100):
        found = (await app.call("search.messages", token, data={"query": "cities"})).json()
        assert found["ok"], found
        if found["messages"]["total"] >= 1:
            break
        await asyncio.sleep(0.1)
    assert found["messages"]["total"] >= 1

    offset = await teams.current_offset(app.store, app.team.id)
    again_id, again = await import_export(app.store, SAMPLE, app.team.id)
    assert again_id == app.team.id
    assert again.as_json()["imported"] == {}
    assert again.skipped_count("message", "already_present") == 158
    assert await teams.current_offset(app.store, app.team.id) == offset


async def test_import_into_new_workspace_from_directory(app: InProcess, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(SAMPLE) as zf:
        zf.extractall(tmp_path)
    team_id, report = await import_export(app.store, tmp_path, team_name="Imported")
    assert team_id != app.team.id
    assert report.as_json()["imported"]["message"] == 158
    async with app.store.read(team_id) as conn:
        row = await conn.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE team_id = ? AND type = 'message'", [team_id]
        )
    assert row is not None and int(row[0]) == 158


async def test_imported_files_and_kept_fields_show_in_history_and_replies(app: InProcess) -> None:
    await import_export(app.store, SAMPLE, app.team.id)
    token = app.team.alice.token
    listed = (await app.call("conversations.list", token, data={"limit": 100})).json()
    channel = next(c["id"] for c in listed["channels"] if c["name"] == "traveling-sailor")
    messages = await history(app, token, channel)
    shares = [m for m in messages if m.get("subtype") == "file_share"]
    assert len(shares) == 3
    share = next(m for m in shares if m["ts"] == "1459052866.000012")
    assert [f["id"] for f in share["files"]] == ["F0VNAKDE2"]
    assert share["files"][0]["name"] == "100_cities.js" and share["files"][0]["size"] == 4163
    assert share["file"]["id"] == "F0VNAKDE2"  # the export's own field, kept
    assert "bot_id" in share and share["username"] and "upload" in share
    assert share["type"] == "message" and share["text"]  # the columns still render the basics
    assert share["user"].startswith("U")

    replies = (
        await app.call("conversations.replies", token, data={"channel": channel, "ts": share["ts"]})
    ).json()
    assert replies["ok"], replies
    assert replies["messages"][0]["files"][0]["id"] == "F0VNAKDE2"

    # a message without kept fields has none
    plain = next(m for m in messages if m.get("subtype") is None)
    assert "files" not in plain and "bot_id" not in plain
