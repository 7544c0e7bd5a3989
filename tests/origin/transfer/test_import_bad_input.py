"""Bad exports: a clear error before any write, or a per-item report entry; ids remapped on
collision with mentions following; a cancelled import stops, and running it again completes it."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from origin.service import teams
from origin.store.shards import Store
from origin.transfer.archive import ArchiveError, Limits
from origin.transfer.importer import Cancelled, import_export
from origin.transfer.plan import IdMap, choose_id, derived_id, kept_ts, to_row

USERS = [
    {"id": "U1AAA", "name": "ann", "real_name": "Ann", "profile": {"email": "ann@x.test"}},
    {"id": "U1BBB", "name": "ben", "real_name": "Ben", "profile": {}},
]
CHANNELS = [
    {"id": "C1AAA", "name": "general", "created": 1, "creator": "U1AAA", "members": ["U1AAA", "U1BBB"]}
]


def export(tmp_path: Path, days: dict[str, Any], **extra: bytes) -> Path:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("users.json", orjson.dumps(USERS))
        zf.writestr("channels.json", orjson.dumps(CHANNELS))
        for name, value in days.items():
            zf.writestr(name, value if isinstance(value, bytes) else orjson.dumps(value))
        for name, data in extra.items():
            zf.writestr(name.replace("__", "/"), data)
    return path


def msg(ts: str, user: str, text: str, **kw: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": user, "text": text, **kw}


async def outbox_size(store: Store, team_id: str) -> int:
    return await teams.current_offset(store, team_id)


async def new_team(store: Store) -> str:
    return str((await teams.create_workspace(store, "Target"))["id"])


async def test_missing_users_json(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "e.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("channels.json", orjson.dumps(CHANNELS))
    team = await new_team(store)
    with pytest.raises(ArchiveError) as err:
        await import_export(store, path, team)
    assert err.value.code == "missing_users"
    assert await outbox_size(store, team) == 0


async def test_corrupt_zip_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "e.zip"
    path.write_bytes(b"not a zip")
    team = await new_team(store)
    with pytest.raises(ArchiveError) as err:
        await import_export(store, path, team)
    assert err.value.code == "corrupt_zip"
    assert await outbox_size(store, team) == 0


async def test_escaping_path_and_bomb_write_nothing(store: Store, tmp_path: Path) -> None:
    team = await new_team(store)
    escaping = export(
        tmp_path, {"general/2020-01-01.json": [msg("1.000001", "U1AAA", "hi")]}, **{"..__x.json": b"[]"}
    )
    with pytest.raises(ArchiveError) as err:
        await import_export(store, escaping, team)
    assert err.value.code == "unsafe_path"
    bomb = export(tmp_path, {"general/2020-01-01.json": b"[" + b" " * 2_000_000 + b"]"})
    with pytest.raises(ArchiveError) as err:
        await import_export(store, bomb, team, limits=Limits(max_entry_bytes=1_000_000))
    assert err.value.code == "entry_too_large"
    assert await outbox_size(store, team) == 0


async def test_malformed_day_and_unknown_user_are_report_items(store: Store, tmp_path: Path) -> None:
    days = {
        "general/2020-01-01.json": [
            msg("1.000001", "U1AAA", "hi <@U1BBB>"),
            msg("1.000002", "UGHOST", "who?"),
        ],
        "general/2020-01-02.json": b"[{not json",
        "nowhere/2020-01-02.json": [msg("1.000003", "U1AAA", "lost")],
    }
    team = await new_team(store)
    _, report = await import_export(store, export(tmp_path, days), team)
    out = report.as_json()
    assert out["imported"]["message"] == 1
    assert out["skipped"]["message"] == {"unknown_user": 1}
    assert out["skipped"]["day_file"] == {"malformed_json": 1, "unlisted_conversation": 1}
    assert out["warnings"]["user"] == {"missing_email": 1}  # ben: reported, no placeholder
    async with store.read(team) as conn:
        row = await conn.fetchone("SELECT email FROM users WHERE id = 'U1BBB'")
    assert row is not None and row[0] is None


async def test_colliding_ids_are_remapped_with_mentions(store: Store, tmp_path: Path) -> None:
    days = {
        "general/2020-01-01.json": [
            msg(
                "1.000001",
                "U1AAA",
                "hi <@U1BBB> in <#C1AAA|general>",
                reactions=[{"name": "tada", "users": ["U1BBB"], "count": 1}],
            )
        ]
    }
    path = export(tmp_path, days)
    first = await new_team(store)
    await import_export(store, path, first)
    second = await new_team(store)
    _, report = await import_export(store, path, second)
    assert report.as_json()["imported"]["message"] == 1
    ben, general = derived_id(second, "U1BBB"), derived_id(second, "C1AAA")
    async with store.read(second) as conn:
        text = await conn.fetchone("SELECT text FROM messages WHERE channel_id = ?", [general])
        reaction = await conn.fetchone("SELECT user_id FROM reactions WHERE channel_id = ?", [general])
    assert text is not None and text[0] == f"hi <@{ben}> in <#{general}|general>"
    assert reaction is not None and reaction[0] == ben
    # the remap is stable: importing again into the second workspace changes nothing
    offset = await outbox_size(store, second)
    _, again = await import_export(store, path, second)
    assert again.as_json()["imported"] == {}
    assert await outbox_size(store, second) == offset


async def test_cancelled_import_leaves_nothing(store: Store, tmp_path: Path) -> None:
    days = {"general/2020-01-01.json": [msg("1.000001", "U1AAA", "hi")]}
    team = await new_team(store)
    with pytest.raises(Cancelled):
        await import_export(store, export(tmp_path, days), team, cancelled=lambda: True)
    assert await outbox_size(store, team) == 0
    async with store.read(team) as conn:
        row = await conn.fetchone("SELECT COUNT(*) FROM users WHERE team_id = ?", [team])
    assert row is not None and int(row[0]) == 0


async def test_an_import_cancelled_half_way_is_completed_by_running_it_again(
    store: Store, tmp_path: Path
) -> None:
    days = {
        f"general/2020-01-0{d}.json": [
            msg(f"157788{d}000.00000{i}", "U1AAA", f"m{d}{i}") for i in range(1, 4)
        ]
        for d in range(1, 5)
    }
    path = export(tmp_path, days)
    whole = await new_team(store)
    _, full = await import_export(store, path, whole, batch=2)
    team = await new_team(store)
    checks = iter([False, False, False, True])  # the start, two day files, then cancel
    with pytest.raises(Cancelled):
        await import_export(store, path, team, cancelled=lambda: next(checks), batch=2)
    async with store.read(team) as conn:
        row = await conn.fetchone("SELECT COUNT(*) FROM messages WHERE team_id = ?", [team])
    assert row is not None and int(row[0]) == 6  # two day files' worth, committed
    async with store.read(team) as conn:
        cursors = await conn.fetchall("SELECT last_read FROM members WHERE team_id = ?", [team])
    assert sorted(int(r[0]) for r in cursors) == [1577884000_000003] * 2  # read, though stopped early
    _, rest = await import_export(store, path, team, batch=2)
    assert rest.imported["message"] == 6 and rest.skipped_count("message", "already_present") == 6
    async with store.read(team) as conn:
        got = await conn.fetchall("SELECT ts, text FROM messages WHERE team_id = ? ORDER BY ts", [team])
    async with store.read(whole) as conn:
        want = await conn.fetchall("SELECT ts, text FROM messages WHERE team_id = ? ORDER BY ts", [whole])
    assert got == want and full.imported["message"] == 12


def test_choose_id_and_mentions() -> None:
    owners = {"U1": "T_OTHER", "U2": "T_ME"}
    assert choose_id("T_ME", "U2", owners.get) == "U2"
    assert choose_id("T_ME", "U3", owners.get) == "U3"
    remapped = choose_id("T_ME", "U1", owners.get)
    assert remapped != "U1" and remapped.startswith("U") and remapped == derived_id("T_ME", "U1")
    ids = IdMap(users={"U1": remapped}, convs={"C1": "C9"})
    assert (
        ids.text("<@U1> <@U1|ann> <#C1|x> <@UNKNOWN>")
        == f"<@{remapped}> <@{remapped}|ann> <#C9|x> <@UNKNOWN>"
    )


def test_kept_ts_agrees_with_to_row() -> None:
    """``newest`` reads only the ts of the last day's messages (``kept_ts``): it must keep and
    skip exactly what ``to_row`` keeps and skips, or imported memberships start read at a ts
    no message has."""
    ids = IdMap(users={"U1": "U1", "U2": "U7"})
    messages: list[dict[str, Any]] = [
        {"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"},
        {"user": "U2", "text": "no type", "ts": "1700000001.5"},
        {"type": "message", "text": "no user (a bot)", "ts": "1700000002.000000", "subtype": "bot_message"},
        {"type": "message", "user": "U404", "text": "unknown", "ts": "1700000003.000000"},
        {"type": "message", "user": 12, "text": "not an id", "ts": "1700000004.000000"},
        {"type": "message", "user": "U1", "text": "bad", "ts": "17e8"},
        {"type": "message", "user": "U1", "text": "bad thread", "ts": "1700000005.1", "thread_ts": "x"},
        {
            "type": "message",
            "user": "U1",
            "text": "reply",
            "ts": "1700000006.1",
            "thread_ts": "1700000000.0001",
        },
        {"type": "channel_join", "user": "U1", "ts": "1700000007.000000"},
        {"type": "message", "user": None, "text": "null user", "ts": "1700000008.000000"},
        {"type": "message", "user": "U1", "ts": 1700000009},
        {"type": "message", "user": "U1", "text": "extras", "ts": "1700000010.2", "client_msg_id": "x"},
    ]
    for m in messages:
        row = to_row(m, ids)
        assert kept_ts(m, ids) == (None if isinstance(row, str) else row.ts), m
    kept = [kept_ts(m, ids) for m in messages]
    assert kept.count(None) == 5  # unknown, not an id, two bad ts, not a message
