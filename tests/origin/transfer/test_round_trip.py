"""Export -> import into an empty origin -> export again gives the same content."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import orjson

from origin.seed import seed_workspace
from origin.service import teams
from origin.store.shards import Store
from origin.transfer.exporter import export_workspace
from origin.transfer.importer import import_export
from tests.origin.transfer.test_archive import SAMPLE


def contents(path: Path) -> dict[str, Any]:
    """Every file of an export, without what names the workspace it came from."""
    out: dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            value = orjson.loads(zf.read(name))
            for item in value:
                item.pop("team_id", None)
                if isinstance(item.get("profile"), dict):
                    item["profile"].pop("team", None)
            out[name] = value
    return out


async def round_trip(
    store: Store, team_id: str, tmp_path: Path
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    first = tmp_path / "first.zip"
    await export_workspace(store, team_id, first)
    empty = await Store.open([f"sqlite:///{tmp_path}/empty.db"])
    try:
        new_team, report = await import_export(empty, first, team_name="Copy")
        second = tmp_path / "second.zip"
        await export_workspace(empty, new_team, second)
    finally:
        await empty.close()
    return contents(first), contents(second), report


async def test_sample_round_trips(store: Store, tmp_path: Path) -> None:
    team = (await teams.create_workspace(store, "Sample"))["id"]
    await import_export(store, SAMPLE, team)
    first, second, report = await round_trip(store, team, tmp_path)
    assert report.as_json()["imported"]["message"] == 158
    assert first == second
    messages = [m for name, day in first.items() if "/" in name for m in day]
    assert len(messages) == 158
    assert any(m.get("file") for m in messages)  # file metadata survives
    assert any(m.get("reactions") for m in messages)
    assert any(m.get("edited") for m in messages)
    assert {c["name"] for c in first["channels.json"]} == {"enrique", "traveling-sailor"}


async def test_seeded_workspace_round_trips_exactly(store: Store, tmp_path: Path) -> None:
    seeded = await seed_workspace(store, users=60, channels=12, messages=10_000, seed=7)
    first, second, report = await round_trip(store, seeded["team_id"], tmp_path)
    assert report.skipped_count("message") == 0
    assert report.as_json()["imported"]["message"] == 10_000
    assert first == second
    threads = [m for name, day in first.items() if "/" in name for m in day if m.get("replies")]
    assert threads and all(m["reply_count"] == len(m["replies"]) for m in threads)
    assert first["dms.json"] or first["mpims.json"]
