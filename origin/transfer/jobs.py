"""Import and export jobs: recorded in ``transfer_jobs`` (state, progress done/total, report),
run by a runner: in-process tasks for the embedded default, or, when the origin has Redis
(:func:`open_runner`), a saq queue on it whose workers are the origin processes themselves
(each runs a worker of the shared queue: a job started on one origin may run on another).

Progress is ``{done, total, percent, unit, counts}``: day files (import) or conversations
(export) done of the total, and the items written so far (``counts``: messages, reactions,
users... as the report or the export counts them), refreshed every :data:`POLL_S` seconds.

Whichever runner runs a job, its row is the truth an admin reads (``admin.jobs.status``,
``flannel admin jobs``). A job is safely restartable: an import is one transaction and
idempotent, an export writes a temporary file renamed when complete, so a worker that died
mid-job leaves nothing half-done and running the job again is correct. Cancelling sets the
row's state to ``cancelling``; the job sees it at its next progress check and rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from origin.files.storage import BlobStore
from origin.store.shards import Store
from origin.transfer.archive import ArchiveError
from origin.transfer.exporter import ExportCancelled, export_workspace
from origin.transfer.importer import Cancelled, import_export
from origin.transfer.report import Report
from wire.errors import SlackError
from wire.ids import new_id, now_us

JSON = dict[str, Any]
KINDS = ("import", "export")
FINAL = ("done", "failed", "cancelled")
COLUMNS = "id, team_id, kind, state, done, total, params, result, error, created, updated"
POLL_S = 0.5


UNITS = {"import": "day_files", "export": "conversations"}


def job_object(row: tuple[Any, ...]) -> JSON:
    jid, team, kind, state, done, total, params, result, error, created, updated = row
    loaded = orjson.loads(result) if result else None
    live = loaded.pop("live", None) if isinstance(loaded, dict) and state not in FINAL else None
    if live is not None:
        counts, loaded = live, None  # a running job's result is only its counts so far
    elif isinstance(loaded, dict) and "report" in loaded:
        counts = loaded["report"].get("imported", {})
    elif isinstance(loaded, dict):
        counts = {k: v for k, v in loaded.items() if isinstance(v, int)}
    else:
        counts = {}
    done, total = int(done), int(total)
    progress = {
        "done": done,
        "total": total,
        "unit": UNITS.get(kind, "items"),
        "counts": counts,
        "percent": round(100.0 * done / total, 1) if total else (100.0 if state == "done" else 0.0),
    }
    return {
        "id": jid, "team_id": team, "kind": kind, "state": state, "progress": progress,
        "params": orjson.loads(params), "result": loaded,
        "error": error, "created": int(created), "updated": int(updated),
    }  # fmt: skip


async def create_job(store: Store, team_id: str, kind: str, params: JSON) -> JSON:
    if kind not in KINDS:
        raise SlackError("invalid_arguments", f"kind is one of {KINDS}")
    job_id = new_id("J")
    now = now_us()
    db = await store.shard_of(team_id)
    async with db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO transfer_jobs ({COLUMNS}) VALUES (?, ?, ?, 'queued', 0, 0, ?, NULL, NULL, ?, ?)",
            [job_id, team_id, kind, orjson.dumps(params).decode(), now, now],
        )
    return await get_job(store, team_id, job_id)


async def get_job(store: Store, team_id: str, job_id: str) -> JSON:
    async with store.read(team_id) as conn:
        row = await conn.fetchone(
            f"SELECT {COLUMNS} FROM transfer_jobs WHERE team_id = ? AND id = ?", [team_id, job_id]
        )
    if row is None:
        raise SlackError("job_not_found")
    return job_object(row)


async def list_jobs(store: Store, team_id: str, limit: int = 50) -> list[JSON]:
    async with store.read(team_id) as conn:
        rows = await conn.fetchall(
            f"SELECT {COLUMNS} FROM transfer_jobs WHERE team_id = ? ORDER BY created DESC LIMIT ?",
            [team_id, limit],
        )
    return [job_object(r) for r in rows]


async def _update(store: Store, team_id: str, job_id: str, **fields: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    db = await store.shard_of(team_id)
    async with db.transaction() as conn:
        await conn.execute(
            f"UPDATE transfer_jobs SET {sets}, updated = ? WHERE id = ?", [*fields.values(), now_us(), job_id]
        )


async def cancel_job(store: Store, team_id: str, job_id: str) -> JSON:
    job = await get_job(store, team_id, job_id)
    if job["state"] not in FINAL:
        await _update(store, team_id, job_id, state="cancelling")
    return await get_job(store, team_id, job_id)


async def run_job(store: Store, team_id: str, job_id: str, files: FileBytes | None = None) -> JSON:
    """Run (or run again, after a crash) one job to its end; returns the final job."""
    job = await get_job(store, team_id, job_id)
    if job["state"] in FINAL:
        return job
    if job["state"] == "cancelling":
        await _update(store, team_id, job_id, state="cancelled")
        return await get_job(store, team_id, job_id)
    await _update(store, team_id, job_id, state="running", done=0, total=0)
    live = {"done": 0, "total": 0, "cancel": False}
    counts: Counter[str] = Counter()

    def progress(done: int, total: int) -> None:
        live["done"], live["total"] = done, total

    async def watch() -> None:
        while True:
            await asyncio.sleep(POLL_S)
            result = orjson.dumps({"live": dict(counts)}).decode()
            await _update(store, team_id, job_id, done=live["done"], total=live["total"], result=result)
            live["cancel"] = (await get_job(store, team_id, job_id))["state"] == "cancelling"

    watcher = asyncio.create_task(watch())
    params = job["params"]
    try:
        result = await _work(
            store, team_id, job["kind"], params, progress, lambda: bool(live["cancel"]), counts,
            files or FileBytes(),
        )  # fmt: skip
        state, error = "done", None
    except (Cancelled, ExportCancelled):
        result, state, error = None, "cancelled", None
    except (ArchiveError, SlackError) as exc:
        result, state, error = None, "failed", f"{getattr(exc, 'code', 'error')}: {exc}"[:255]
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await _update(
        store, team_id, job_id, state=state, error=error, done=live["done"], total=live["total"],
        result=orjson.dumps(result).decode() if result is not None else None,
    )  # fmt: skip
    return await get_job(store, team_id, job_id)


async def _work(
    store: Store, team_id: str, kind: str, params: JSON, progress: Callable[[int, int], None],
    cancelled: Callable[[], bool], counts: Counter[str], files: FileBytes,
) -> JSON:  # fmt: skip
    if kind == "import":
        report = Report()
        report.imported = counts  # the watcher reads what is imported so far
        target, report = await import_export(
            store, Path(params["path"]), params.get("target_team") or team_id,
            progress=progress, cancelled=cancelled, report=report, blobs=files.blobs,
            max_file_bytes=files.max_bytes, quota_bytes=files.quota_bytes, public_url=files.public_url,
        )  # fmt: skip
        return {"team_id": target, "report": report.as_json()}
    done = await export_workspace(
        store, team_id, Path(params["out"]), channels=params.get("channels"),
        oldest=params.get("oldest"), latest=params.get("latest"), progress=progress, cancelled=cancelled,
        counts=counts, blobs=files.blobs,
    )  # fmt: skip
    return {"out": params["out"], **done}


@dataclass
class FileBytes:
    """Where jobs read and write files' bytes: late-bound (the file store opens after the
    runner); ``blobs`` None: exports carry file metadata only, imports skip ``__uploads/``."""

    blobs: BlobStore | None = None
    max_bytes: int | None = None
    #: A workspace's file quota (imported bytes count against it) and the base of files' links.
    quota_bytes: int | None = None
    public_url: str = ""


class Runner(Protocol):
    files: FileBytes

    async def start(self) -> None: ...

    async def submit(self, team_id: str, job_id: str) -> None: ...

    async def close(self) -> None: ...


class Transfers:
    """What the admin Web API starts jobs with: a runner, and the only directories a job may
    read an export from (``import_dir``) and write one into (``export_dir``). A directory that
    is not configured refuses its kind of job."""

    def __init__(
        self, store: Store, runner: Runner, import_dir: str | Path | None, export_dir: str | Path | None
    ) -> None:
        self.store = store
        self.runner = runner
        self.import_dir = Path(import_dir).resolve() if import_dir else None
        self.export_dir = Path(export_dir).resolve() if export_dir else None

    def import_path(self, given: str) -> Path:
        """``given`` (relative to the import directory, or absolute inside it), resolved with
        its symlinks; anything that lands outside the directory is refused."""
        if self.import_dir is None:
            raise SlackError(
                "imports_disabled", "this origin has no import directory (OriginSettings.import_dir)"
            )
        if "\x00" in given:
            raise SlackError("path_not_allowed", "the path is not inside the import directory")
        try:  # a name too long, a symlink loop...: the OS says no, so do we (not a 500)
            path = (self.import_dir / given).resolve()
            inside = path != self.import_dir and path.is_relative_to(self.import_dir)
            found = inside and path.exists()
        except (OSError, RuntimeError, ValueError):
            raise SlackError("file_not_found", "no export at that path") from None
        if not inside:
            raise SlackError("path_not_allowed", "the path is not inside the import directory")
        if not found:
            raise SlackError("file_not_found", f"no export at {given}")
        return path

    async def start_import(self, team_id: str, given: str) -> JSON:
        path = self.import_path(given)
        job = await create_job(self.store, team_id, "import", {"path": str(path)})
        await self.runner.submit(team_id, job["id"])
        return job

    async def start_export(
        self, team_id: str, channels: list[str] | None, oldest: int | None, latest: int | None
    ) -> JSON:
        if self.export_dir is None:
            raise SlackError(
                "exports_disabled", "this origin has no export directory (OriginSettings.export_dir)"
            )
        self.export_dir.mkdir(parents=True, exist_ok=True)
        out = self.export_dir / f"{team_id}-{now_us()}-{new_id('X')}.zip"
        params: JSON = {"out": str(out), "channels": channels, "oldest": oldest, "latest": latest}
        job = await create_job(self.store, team_id, "export", params)
        await self.runner.submit(team_id, job["id"])
        return job


class InProcessRunner:
    """The embedded default: each job is a task of this process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.files = FileBytes()
        self.tasks: dict[str, asyncio.Task[JSON]] = {}

    async def start(self) -> None:
        pass

    async def submit(self, team_id: str, job_id: str) -> None:
        self.tasks[job_id] = asyncio.create_task(run_job(self.store, team_id, job_id, self.files))

    async def wait(self, job_id: str) -> JSON:
        return await self.tasks[job_id]

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


class SaqRunner:
    """Jobs on a saq queue in Redis. :meth:`start` runs a worker of the queue in this process
    (the origin does, when it has Redis); :meth:`worker` builds one to run elsewhere. A job saq
    retries after a worker died runs again from the start (see the module's docstring)."""

    FUNCTION = "flannel_transfer"

    def __init__(self, store: Store, redis_url: str, name: str = "flannel-transfer") -> None:
        from saq import Queue

        self.store = store
        self.files = FileBytes()
        self.queue = Queue.from_url(redis_url, name=name)
        self._worker: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, concurrency: int = 2) -> None:
        self._worker = self.worker(concurrency)
        self._task = asyncio.create_task(self._worker.start())

    async def submit(self, team_id: str, job_id: str) -> None:
        await self.queue.enqueue(
            self.FUNCTION, key=job_id, team_id=team_id, job_id=job_id, timeout=0, retries=3
        )

    def worker(self, concurrency: int = 2) -> Any:
        from saq import Worker

        store, files = self.store, self.files

        async def flannel_transfer(ctx: Any, *, team_id: str, job_id: str) -> JSON:
            return await run_job(store, team_id, job_id, files)

        function: tuple[str, Callable[..., Awaitable[JSON]]] = (self.FUNCTION, flannel_transfer)
        worker = Worker(self.queue, functions=[function], concurrency=concurrency)
        # saq's worker takes SIGTERM/SIGINT for itself (and removes their handlers when it stops),
        # which would steal the process's graceful stop from flannel_cli.serve: it has none here.
        worker.SIGNALS = []
        return worker

    async def close(self) -> None:
        if self._worker is not None:
            await self._worker.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.queue.disconnect()


def open_runner(store: Store, redis_url: str | None, prefix: str = "flannel:") -> Runner:
    """The saq queue ``<prefix>transfer`` on Redis when there is a Redis, else in-process."""
    if redis_url:
        return SaqRunner(store, redis_url, name=prefix + "transfer")
    return InProcessRunner(store)
