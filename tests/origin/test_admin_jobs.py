"""admin.imports.start, admin.exports.start, admin.jobs.status: admins only, paths confined to
the configured directories, jobs run in the background with their progress visible."""

from __future__ import annotations

import asyncio
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from origin.service import users
from origin.service.auth import issue_token
from origin.store.shards import Store
from origin.transfer import jobs
from tests.origin.conftest import InProcess, in_process
from tests.origin.transfer.test_archive import SAMPLE


@pytest.fixture
async def admin_app(store: Store, tmp_path: Path) -> AsyncIterator[InProcess]:
    imports, exports = tmp_path / "imports", tmp_path / "exports"
    imports.mkdir()
    shutil.copy(SAMPLE, imports / "sample.zip")
    async for running in in_process(store, import_dir=str(imports), export_dir=str(exports)):
        yield running


async def admin_token(app: InProcess) -> str:
    admin = await users.create_user(
        app.store, app.team.id, "boss", "The Boss", "boss@example.com", is_admin=True
    )
    return await issue_token(app.store, app.team.id, admin["id"])


async def wait_done(app: InProcess, token: str, job_id: str) -> dict[str, Any]:
    seen = []
    for _ in range(400):
        body = (await app.call("admin.jobs.status", token, data={"job": job_id})).json()
        assert body["ok"], body
        seen.append(body["job"]["state"])
        if body["job"]["state"] in jobs.FINAL:
            job: dict[str, Any] = body["job"]
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job never finished: {seen[-5:]}")


async def test_import_then_export_as_admin(admin_app: InProcess, tmp_path: Path) -> None:
    app = admin_app
    token = await admin_token(app)
    started = (await app.call("admin.imports.start", token, data={"path": "sample.zip"})).json()
    assert started["ok"], started
    job = started["job"]
    assert job["kind"] == "import" and job["state"] in ("queued", "running", "done")
    done = await wait_done(app, token, job["id"])
    assert done["state"] == "done", done
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    assert done["result"]["report"]["imported"]["message"] == 158
    assert done["error"] is None

    exported = (await app.call("admin.exports.start", token, data={"channels": "C0G9QF9GZ"})).json()
    assert exported["ok"], exported
    finished = await wait_done(app, token, exported["job"]["id"])
    assert finished["state"] == "done", finished
    out = Path(finished["result"]["out"])
    assert out.parent == (tmp_path / "exports").resolve() and out.exists()
    with zipfile.ZipFile(out) as zf:
        assert "users.json" in zf.namelist()

    listed = (await app.call("admin.jobs.status", token)).json()
    assert [j["id"] for j in listed["jobs"]] == [exported["job"]["id"], job["id"]]


async def test_job_failure_is_reported(admin_app: InProcess) -> None:
    app = admin_app
    token = await admin_token(app)
    assert app.settings.import_dir
    (Path(app.settings.import_dir) / "bad.zip").write_bytes(b"not a zip")
    started = (await app.call("admin.imports.start", token, data={"path": "bad.zip"})).json()
    failed = await wait_done(app, token, started["job"]["id"])
    assert failed["state"] == "failed" and "corrupt_zip" in failed["error"]


async def test_paths_escaping_the_import_dir_are_refused(admin_app: InProcess, tmp_path: Path) -> None:
    app = admin_app
    token = await admin_token(app)
    outside = tmp_path / "outside.zip"
    shutil.copy(SAMPLE, outside)
    assert app.settings.import_dir
    (Path(app.settings.import_dir) / "link.zip").symlink_to(outside)
    for path in ("../outside.zip", str(outside), "link.zip", "/etc/passwd", ".", "sub/../../outside.zip"):
        body = (await app.call("admin.imports.start", token, data={"path": path})).json()
        assert (
            body == {"ok": False, "error": "path_not_allowed"} or body.get("error") == "path_not_allowed"
        ), (
            path,
            body,
        )
    missing = (await app.call("admin.imports.start", token, data={"path": "nope.zip"})).json()
    assert missing["error"] == "file_not_found"
    assert (await app.call("admin.jobs.status", token)).json()["jobs"] == []


async def test_not_configured_means_refused(app: InProcess) -> None:
    token = await admin_token(app)
    body = (await app.call("admin.imports.start", token, data={"path": str(SAMPLE)})).json()
    assert body["ok"] is False and body["error"] == "imports_disabled"
    body = (await app.call("admin.exports.start", token)).json()
    assert body["ok"] is False and body["error"] == "exports_disabled"


async def test_only_admins_with_user_tokens(admin_app: InProcess) -> None:
    app = admin_app
    alice = app.team.alice.token
    bot = await users.create_user(app.store, app.team.id, "robot", "Robot", is_bot=True, is_admin=True)
    bot_token = await issue_token(app.store, app.team.id, bot["id"], bot=True)
    for name, data in (
        ("admin.imports.start", {"path": "sample.zip"}),
        ("admin.exports.start", {}),
        ("admin.jobs.status", {}),
        ("admin.jobs.cancel", {"job": "J1"}),
    ):
        assert (await app.call(name, alice, data=data)).json() == {"ok": False, "error": "not_an_admin"}
        assert (await app.call(name, bot_token, data=data)).json()["error"] == "not_allowed_token_type"
    token = await admin_token(app)
    other = (await app.call("admin.exports.start", token, data={"team_id": "T999"})).json()
    assert other["error"] == "team_access_denied"
    unknown = (await app.call("admin.jobs.status", token, data={"job": "J404"})).json()
    assert unknown["error"] == "job_not_found"


async def test_api_jobs_run_on_the_saq_queue_when_redis_is_configured(
    store: Store, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    imports, exports = tmp_path / "imports", tmp_path / "exports"
    imports.mkdir()
    shutil.copy(SAMPLE, imports / "sample.zip")
    settings = {"import_dir": str(imports), "export_dir": str(exports)}
    async for app in in_process(store, redis_url=redis_url, redis_prefix=redis_prefix, **settings):
        runner = app.asgi.state.origin.api.transfers.runner
        assert isinstance(runner, jobs.SaqRunner) and runner.queue.name == redis_prefix + "transfer"
        token = await admin_token(app)
        started = (await app.call("admin.imports.start", token, data={"path": "sample.zip"})).json()
        assert started["ok"], started
        done = await wait_done(app, token, started["job"]["id"])
        assert done["state"] == "done", done
        progress = done["progress"]
        assert progress["percent"] == 100.0 and progress["unit"] == "day_files"
        assert progress["counts"]["message"] == 158 and progress["done"] == progress["total"] > 0
        for _ in range(100):  # saq ran it, and says so (once the function has returned)
            saq_job = await runner.queue.job(started["job"]["id"])
            if saq_job is not None and saq_job.status == "complete":
                break
            await asyncio.sleep(0.05)
        assert saq_job is not None and saq_job.status == "complete"
        exported = (await app.call("admin.exports.start", token)).json()
        finished = await wait_done(app, token, exported["job"]["id"])
        assert finished["state"] == "done" and finished["progress"]["counts"]["messages"] == 158


async def test_a_running_job_shows_its_counts_so_far(store: Store, tmp_path: Path) -> None:
    from origin.service import teams

    team = (await teams.create_workspace(store, "Live"))["id"]
    job = await jobs.create_job(store, team, "import", {"path": str(SAMPLE)})
    await jobs._update(
        store, team, job["id"], state="running", done=3, total=12, result='{"live": {"message": 40}}'
    )
    running = await jobs.get_job(store, team, job["id"])
    assert running["progress"] == {
        "done": 3, "total": 12, "unit": "day_files", "counts": {"message": 40}, "percent": 25.0
    }  # fmt: skip
    assert running["result"] is None
