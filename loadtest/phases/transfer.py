"""Admin import and export throughput (issue 21): a generated Slack export of ``messages``
messages imported into an empty workspace, then that workspace exported again.

- ``import.messages_per_s``: messages imported per second by :func:`origin.transfer.importer.
  import_export` (users, channels, messages, threads, reactions and their change-log events,
  all committed; search follows from those events: on the default tantivy engine the shard
  keeps no full-text index), the export already on disk (generating it is not timed);
- ``import.process_cpu_s``: the CPU this process used meanwhile (the rest is the database's);
- ``export.messages_per_s``: messages written per second by :func:`origin.transfer.exporter.
  export_workspace` into a zip;
- ``import.messages`` / ``export.messages``: how many were moved (the full plan: 1,000,000; the
  quick plan fewer, see :mod:`loadtest.plan`), and the seconds each direction took.

The export is shaped like a real one: ``users`` people, ``channels`` public channels whose
members are everyone, one day file per channel per day, every tenth message a thread reply,
every seventh with a reaction, every thirteenth mentioning someone.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from origin.service import teams
from origin.store.shards import Store
from origin.transfer.exporter import export_workspace
from origin.transfer.importer import import_export

DAY_S = 86_400
START_S = 1_700_000_000  # 2023-11-14: the first day of the generated history


def generate(path: Path, messages: int, users: int = 200, channels: int = 20, per_day: int = 2000) -> int:
    """Write a Slack export of ``messages`` messages to ``path``; returns how many it holds."""
    people = [f"U{i:08d}" for i in range(users)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(
            "users.json",
            orjson.dumps(
                [
                    {
                        "id": uid,
                        "name": f"user{i}",
                        "real_name": f"User {i}",
                        "profile": {"email": f"user{i}@example.com", "real_name": f"User {i}"},
                    }
                    for i, uid in enumerate(people)
                ]
            ),
        )
        listing = [
            {
                "id": f"C{c:08d}",
                "name": f"chan-{c}",
                "created": START_S,
                "creator": people[0],
                "members": people,
            }
            for c in range(channels)
        ]
        zf.writestr("channels.json", orjson.dumps(listing))
        written = 0
        per_channel = -(-messages // channels)
        for c, channel in enumerate(listing):
            count = min(per_channel, messages - written)
            day: list[dict[str, Any]] = []
            parent = ""
            for i in range(count):
                ts_us = (START_S + (i // per_day) * DAY_S) * 1_000_000 + (i % per_day) * 1000 + c
                ts = f"{ts_us // 1_000_000}.{ts_us % 1_000_000:06d}"
                user = people[(i * 7 + c) % users]
                message: dict[str, Any] = {
                    "type": "message",
                    "user": user,
                    "text": f"message {i} in {c}",
                    "ts": ts,
                }
                if i % 13 == 5:
                    message["text"] += f" <@{people[(i + 1) % users]}>"
                if i % 10 == 0:
                    parent = ts
                elif i % 10 == 3 and parent:
                    message["thread_ts"] = parent
                if i % 7 == 2:
                    message["reactions"] = [{"name": "thumbsup", "users": [people[i % users]], "count": 1}]
                day.append(message)
                if len(day) == per_day or i == count - 1:
                    first = float(day[0]["ts"])
                    stamp = time.strftime("%Y-%m-%d", time.gmtime(first))
                    zf.writestr(f"{channel['name']}/{stamp}.json", orjson.dumps(day))
                    day = []
            written += count
    return written


async def run(
    database_urls: list[str], work: Path, messages: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    source = work / "transfer-source.zip"
    started = time.perf_counter()
    total = generate(source, messages)
    progress(f"transfer: export of {total} messages generated in {time.perf_counter() - started:.1f}s")
    store = await Store.open(database_urls)
    try:
        team_id = (await teams.create_workspace(store, "Imported"))["id"]
        started, cpu = time.perf_counter(), time.process_time()
        _, report = await import_export(store, source, team_id)
        import_s, cpu = time.perf_counter() - started, time.process_time() - cpu
        imported = report.imported.get("message", 0)
        progress(f"transfer: imported {imported} messages in {import_s:.1f}s")
        out = work / "transfer-export.zip"
        started = time.perf_counter()
        counts = await export_workspace(store, team_id, out)
        export_s = time.perf_counter() - started
    finally:
        await store.close()
        source.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    return {
        "import.messages": imported,
        "import.seconds": round(import_s, 2),
        "import.messages_per_s": round(imported / max(import_s, 1e-9)),
        "import.process_cpu_s": round(cpu, 2),
        "export.messages": counts["messages"],
        "export.seconds": round(export_s, 2),
        "export.messages_per_s": round(counts["messages"] / max(export_s, 1e-9)),
    }


async def compare_bulk_path(mysql: str, messages: int, rounds: int) -> dict[str, list[float]]:
    """Import speed on MariaDB with the driver's own executemany ("driver") and with
    ``origin.store.mysql``'s bulk statements ("bulk"), alternated, on one generated export:
    ``python -m loadtest.phases.transfer [messages] [rounds]``."""
    import tempfile
    import uuid

    from origin.store import mysql as bulk

    real = bulk.insert_statements
    got: dict[str, list[float]] = {"driver": [], "bulk": []}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "export.zip"
        generate(source, messages)
        for _ in range(rounds):
            for mode in ("driver", "bulk"):
                bulk.insert_statements = real if mode == "bulk" else (lambda *a, **k: None)  # type: ignore[assignment]
                url = f"{mysql}/flannel_transfer_ab_{uuid.uuid4().hex[:8]}"
                store = await Store.open([url])
                try:
                    team_id = (await teams.create_workspace(store, "AB"))["id"]
                    started, cpu = time.perf_counter(), time.process_time()
                    _, report = await import_export(store, source, team_id)
                    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                finally:
                    bulk.insert_statements = real  # type: ignore[assignment]
                    await store.close()
                    await bulk.drop_database(bulk_params(url))
                n = report.imported.get("message", 0)
                got[mode].append(n / seconds)
                print(f"{mode}: {n} messages in {seconds:.2f}s = {n / seconds:,.0f} msg/s, cpu {cpu:.2f}s")
    return got


def bulk_params(url: str) -> dict[str, Any]:
    from origin.store.urls import mysql_params

    return mysql_params(url)


if __name__ == "__main__":
    import asyncio
    import os
    import statistics
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    mysql = os.environ.get("FLANNEL_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
    result = asyncio.run(compare_bulk_path(mysql, *(args + [100_000, 3][len(args) :])))
    print({mode: round(statistics.median(v)) for mode, v in result.items()})
