"""Transfer jobs: progress, cancellation, restart, and a job run on the real Redis queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

from origin.service import teams
from origin.store.shards import Store
from origin.transfer import jobs
from tests.origin.transfer.test_archive import SAMPLE


async def test_in_process_import_then_export(store: Store, tmp_path: Path) -> None:
    team = (await teams.create_workspace(store, "Jobs"))["id"]
    runner = jobs.InProcessRunner(store)
    job = await jobs.create_job(store, team, "import", {"path": str(SAMPLE)})
    assert job["state"] == "queued"
    await runner.submit(team, job["id"])
    done = await runner.wait(job["id"])
    assert done["state"] == "done", done
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    assert done["result"]["report"]["imported"]["message"] == 158
    # running a finished job again (a restart) does nothing
    assert (await jobs.run_job(store, team, job["id"]))["state"] == "done"

    out = tmp_path / "out.zip"
    export = await jobs.create_job(store, team, "export", {"out": str(out)})
    await runner.submit(team, export["id"])
    finished = await runner.wait(export["id"])
    assert finished["state"] == "done" and finished["result"]["messages"] == 158 and out.exists()
    assert [j["id"] for j in await jobs.list_jobs(store, team)] == [export["id"], job["id"]]


async def test_cancel_and_failure(store: Store, tmp_path: Path) -> None:
    team = (await teams.create_workspace(store, "Jobs"))["id"]
    job = await jobs.create_job(store, team, "import", {"path": str(SAMPLE)})
    await jobs.cancel_job(store, team, job["id"])
    assert (await jobs.run_job(store, team, job["id"]))["state"] == "cancelled"
    assert await teams.current_offset(store, team) == 0
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    failing = await jobs.create_job(store, team, "import", {"path": str(bad)})
    failed = await jobs.run_job(store, team, failing["id"])
    assert failed["state"] == "failed" and "corrupt_zip" in failed["error"]


async def test_job_on_the_redis_queue(store: Store, redis_url: str, redis_prefix: str) -> None:
    team = (await teams.create_workspace(store, "Queued"))["id"]
    runner = jobs.SaqRunner(store, redis_url, name=redis_prefix + "transfer")
    worker = runner.worker()
    task = asyncio.create_task(worker.start())
    try:
        job = await jobs.create_job(store, team, "import", {"path": str(SAMPLE)})
        await runner.submit(team, job["id"])
        for _ in range(200):
            state = (await jobs.get_job(store, team, job["id"]))["state"]
            if state in jobs.FINAL:
                break
            await asyncio.sleep(0.1)
        final = await jobs.get_job(store, team, job["id"])
        assert final["state"] == "done", final
        assert final["result"]["report"]["imported"]["message"] == 158
    finally:
        await worker.stop()
        task.cancel()
        await runner.close()
