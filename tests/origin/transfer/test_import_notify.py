"""An import is history, not news: the notifier (following the change log every imported
message is in) tells nobody about an imported mention, and still tells about a live one."""

from __future__ import annotations

import zipfile
from pathlib import Path

import orjson

from origin.transfer.importer import import_export
from tests.notifier.test_service import World, smtp, started, world

__all__ = ["smtp", "world"]  # the fixtures, for this module's test


async def test_imported_mentions_notify_nobody(world: World, tmp_path: Path) -> None:
    t = world.team
    await world.call("users.prefs.set", t.bob.token, prefs={"email": {"enabled": True}})
    world.presence.active.add((t.id, t.bob.id))
    people = [
        {"id": u.id, "name": u.name, "profile": {"email": f"{u.name}@example.com"}} for u in (t.alice, t.bob)
    ]
    old = [
        {
            "type": "message",
            "user": t.alice.id,
            "text": f"<@{t.bob.id}> old news {i}",
            "ts": f"1700000{i:03d}.000100",
        }
        for i in range(5)
    ]
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("users.json", orjson.dumps(people))
        channel = {"id": "CHISTORY1", "name": "history", "created": 1, "members": [t.alice.id, t.bob.id]}
        zf.writestr("channels.json", orjson.dumps([channel]))
        zf.writestr("history/2023-11-14.json", orjson.dumps(old))
    n = await started(world)
    try:
        _, report = await import_export(world.store, path, t.id)
        assert report.imported["message"] == 5
        await world.caught_up(n)
        world.now[0] += 301
        await n.flush()
        assert world.frames_for(t.bob.id) == [] and world.inbox.messages == []

        await world.call("chat.postMessage", t.alice.token, channel=t.general, text=f"<@{t.bob.id}> news")
        await world.caught_up(n)
        (frame,) = world.frames_for(t.bob.id)  # the notifier was listening all along
        assert frame["channel"] == t.general
    finally:
        await n.close()
