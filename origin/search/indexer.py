"""The search indexer: follows every workspace's change log into the tantivy index of its shard.

The index on disk (generations, ``CURRENT``, building one from the database) is
:mod:`origin.search.generations`.

Applying. One task per workspace reads its log (a `changelog.LogReader` subscription) into
one queue; one applier drains it in batches. An event names what it changed (a message, its
thread parent, the message a reaction is on, a shared file); the applier reads those
messages' rows from the shard and replaces their documents (a row that is gone removes its
document). Re-reading the row makes applying idempotent, so a batch applied twice (a crash
after the commit, before ``offsets.json``) changes nothing; the offsets are written after
each commit, and a restart resumes from them. Events about membership and visibility need no
work: the query names the conversations the caller may read (see `origin.search.engine`).

Resync. A workspace the index has never seen (a new index; rows seeded or imported without
events), or whose next event the log no longer has (`TooOld`, or an in-process log that
restarted empty), is rebuilt from its shard: the outbox's last offset is read first, then
every message; events up to that offset are in the rows read.

Rebuild (``flannel admin reindex``, or :meth:`Indexer.reindex`): a new generation is built
from the database beside the one answering, then ``CURRENT`` is switched; a running indexer
sees the switch, follows the logs from the new generation's offsets and drops the old one.
An indexer that starts on a generation of another schema version starts a new, empty one
instead: every workspace is then rebuilt from the database (the old one answers nothing
meanwhile, since it cannot be opened with this schema).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from changelog import LogReader, TailableLog, TooOld
from origin.search.engine import FileHits, Hits, SearchRequest, register, unregister
from origin.search.generations import (
    ROW,
    Generation,
    Key,
    build,
    current,
    drop_old,
    fill_team,
    message_doc,
    new_path,
    outbox_offset,
    publish,
    schema_version,
)
from origin.search.tantivy_index import (
    KIND_FILE,
    KIND_MESSAGE,
    SCHEMA_VERSION,
    FileDoc,
    ShardIndex,
)
from origin.store.db import Conn, Row
from origin.store.shards import Store
from wire.ids import parse_ts

log = logging.getLogger("flannel.origin.search")

WAIT_S: Final = 1.0
"""How long a search waits for the index to apply its workspace's last write (read-your-writes)."""
BATCH: Final = 2000
POLL_S: Final = 1.0
REBUILDS_PER_BATCH: Final = 4
COMMIT_EVERY_S: Final = 0.25
"""Staged writes are committed at most this often: a commit costs ~14 ms of CPU whatever it
holds (a segment written, the searcher reopened), which at one commit per message is most of what
a post costs the origin. Committed at once, whatever the time, when a search waits for its
workspace (read-your-writes is not held up) or a workspace was rebuilt."""


@dataclass(frozen=True, slots=True)
class _Event:
    gen: str
    team_id: str
    offset: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Rebuild:
    gen: str
    team_id: str
    done: asyncio.Future[int]


class Indexer:
    """The embedded engine: follows the change log into a `Generation`, answers searches."""

    name = "tantivy"

    def __init__(
        self,
        store: Store,
        changelog: TailableLog,
        root: str | os.PathLike[str] | None = None,
        *,
        batch: int = BATCH,
        poll_s: float = POLL_S,
        commit_every_s: float = COMMIT_EVERY_S,
    ) -> None:
        self.store = store
        self.changelog = changelog
        self._owned = root is None or not str(root)
        self.root = Path(tempfile.mkdtemp(prefix="flannel-search-")) if self._owned else Path(str(root))
        self.batch = batch
        self.poll_s = poll_s
        self.commit_every_s = commit_every_s
        # Staged and not yet committed: the shards written and the offsets they reach.
        self._pending_shards: set[int] = set()
        self._pending_offsets: dict[str, int] = {}
        self._last_commit = 0.0
        self._wanted = asyncio.Event()  # a search waits for a workspace with staged writes
        self.commits = 0
        self._gen: Generation | None = None
        self._queue: asyncio.Queue[_Event | _Rebuild] = asyncio.Queue(maxsize=batch * 4)
        self._follows: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: LogReader | None = None
        self._applied = asyncio.Event()
        self._lock = asyncio.Lock()  # an applied batch, or a generation switch
        self._starting = asyncio.Semaphore(2)
        self._deferred: list[_Rebuild] = []
        self._waited: set[str] = set()  # workspaces a search waits for
        self._shard_of: dict[int, int] = {id(db): i for i, db in enumerate(store.shards)}
        self.applied_events = 0

    @property
    def generation(self) -> Generation:
        assert self._gen is not None, "Indexer.start() first"
        return self._gen

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = current(self.root)
        if path is None or schema_version(path) != SCHEMA_VERSION:
            if path is not None:
                log.warning("search index %s has another schema: starting a new one", path.name)
            path = new_path(self.root)
            publish(self.root, path)
            drop_old(self.root, path)
        self._gen = Generation(path, len(self.store.shards))
        self._reader = LogReader(self.changelog)
        register(self.store.shards, self)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._apply_loop()), loop.create_task(self._watch())]
        await self._follow_new()

    async def stop(self) -> None:
        unregister(self)
        for task in [*self._follows.values(), *self._tasks]:
            task.cancel()
        for task in [*self._follows.values(), *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._gen is not None and self._pending_offsets:
            try:  # what is staged, so that a restart need not read it again
                await self._commit_pending()
            except Exception:
                log.warning("search indexer: the last commit at stop failed", exc_info=True)
        self._follows.clear()
        if self._reader is not None:
            await self._reader.close()
        if self._gen is not None:
            await asyncio.to_thread(self._gen.close)
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def applied(self, team_id: str) -> int:
        """The offset the committed index reflects (what searches see)."""
        return self.generation.offsets.get(team_id, 0)

    def idle(self) -> bool:
        """Nothing queued, deferred or being applied (every followed workspace is in)."""
        return self._queue.empty() and not self._deferred and not self._lock.locked()

    def staged(self, team_id: str) -> int:
        """The offset written to the index, committed or not (see :data:`COMMIT_EVERY_S`)."""
        return max(self.applied(team_id), self._pending_offsets.get(team_id, 0))

    async def wait_for(self, team_id: str, offset: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        if self.applied(team_id) < offset and team_id not in self._follows:
            await self._follow_new()  # a workspace created since the last look
        self._waited.add(team_id)
        if team_id in self._pending_offsets:
            self._wanted.set()  # commit what is staged now, not when it is due
        try:
            while self.applied(team_id) < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._applied.wait(), min(left, 0.25))
            return True
        finally:
            self._waited.discard(team_id)

    async def reindex(self) -> int:
        """Rebuild every workspace into a new generation and switch to it (online)."""
        _, n = await build(self.store, self.root)
        await self._switch_if_changed()
        return n

    async def search_messages(self, request: SearchRequest, view: Any = None) -> Hits:
        shard, searcher = view if view is not None else await self.pin(request.team_id)
        total, hits, _ = shard.search(KIND_MESSAGE, request, searcher)
        query = request.query
        if not (query.positive or query.excluded):  # counted up to `cap`, as the database does
            return min(total, request.cap), hits, total <= request.cap
        return total, hits, True

    async def search_files(self, request: SearchRequest, view: Any = None) -> FileHits:
        shard, searcher = view if view is not None else await self.pin(request.team_id)
        return shard.search(KIND_FILE, request, searcher)

    async def pin(self, team_id: str) -> tuple[ShardIndex, Any]:
        """The index of the workspace's shard as it answers now, for one search."""
        shard = await self._shard(team_id)
        return shard, shard.pin()

    async def _shard(self, team_id: str) -> ShardIndex:
        db = await self.store.shard_of(team_id)
        return self.generation.shards[self._shard_of[id(db)]]

    # -- following -------------------------------------------------------------------------------

    async def _follow_new(self) -> None:
        for team_id in await self.store.team_ids():
            task = self._follows.get(team_id)
            if task is None or task.done():
                self._follows[team_id] = asyncio.get_running_loop().create_task(self._follow(team_id))

    async def _watch(self) -> None:
        """New workspaces, and a generation built by ``flannel admin reindex``."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self._follow_new()
                await self._switch_if_changed()
            except Exception:
                log.exception("search indexer: watching workspaces failed, retrying")

    async def _switch_if_changed(self) -> None:
        path = current(self.root)
        if path is None or path.name == self.generation.name or schema_version(path) != SCHEMA_VERSION:
            return  # (a generation of another schema: built by another version of flannel)
        async with self._lock:
            for task in self._follows.values():
                task.cancel()
            for task in self._follows.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._follows.clear()
            stale = [*self._deferred, *(self._queue.get_nowait() for _ in range(self._queue.qsize()))]
            self._deferred = []
            for item in stale:
                if isinstance(item, _Rebuild) and not item.done.done():
                    item.done.cancel()
            old = self.generation
            self._pending_shards.clear()  # the old generation's; the new one is complete
            self._pending_offsets.clear()
            self._gen = Generation(path, len(self.store.shards))
            await asyncio.to_thread(old.close)
        drop_old(self.root, path)
        log.info("search index switched to %s", path.name)
        await self._follow_new()

    async def _follow(self, team_id: str) -> None:
        gen = self.generation.name
        assert self._reader is not None
        try:
            after = self.applied(team_id)
            async with self._starting:  # a few at a time: the pool serves the API too
                # never indexed (a new index; a workspace seeded or imported without events),
                # or the log cannot replay what the index lacks
                lost = team_id not in self.generation.offsets or await self._log_lost(team_id, after)
            if lost:
                after = await self._rebuild(gen, team_id)
            while True:
                sub = await self._reader.subscribe(team_id, after)
                try:
                    async for offset, payload in sub:
                        await self._queue.put(_Event(gen, team_id, offset, payload))
                        after = offset
                    return
                except TooOld:
                    after = await self._rebuild(gen, team_id)
                finally:
                    await sub.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("search indexer: following %s failed", team_id)
            raise

    async def _log_lost(self, team_id: str, after: int) -> bool:
        """Whether events after `after` were published but the log cannot give them."""
        db = await self.store.shard_of(team_id)
        published = await outbox_offset(db, team_id, published=True)
        if after >= published:
            return False
        floor = await self.changelog.floor(team_id)
        last = await self.changelog.last_offset(team_id)
        return after + 1 < floor or last < published

    async def _rebuild(self, gen: str, team_id: str) -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Rebuild(gen, team_id, done))
        return await done

    # -- applying --------------------------------------------------------------------------------

    async def _apply_loop(self) -> None:
        while True:
            if self._deferred or not self._queue.empty():
                first: list[_Event | _Rebuild] = []
            elif self._pending_offsets:
                got = await self._next_or_due()
                if got is None:  # due, or a search waits: commit what is staged
                    async with self._lock:
                        failed = set(self._pending_offsets)
                        try:
                            await self._commit_pending()
                        except Exception:
                            log.exception("search indexer: a commit failed; its workspaces are rebuilt")
                            self._forget(failed)
                    self._applied.set()
                    continue
                first = [got]
            else:
                first = [await self._queue.get()]
            items = self._next_batch(first)
            async with self._lock:
                try:
                    await self._apply(items)
                except Exception:
                    log.exception("search indexer: a batch failed; its workspaces are rebuilt")
                    staged = set(self._pending_offsets)
                    self._pending_shards.clear()
                    self._pending_offsets.clear()
                    teams = {i.team_id for i in items}
                    followed = {i.team_id for i in items if isinstance(i, _Event)}
                    # Rebuilt: the followers wait for their rebuild, which fails below.
                    self._forget((staged - teams) | followed)
                    for team_id in teams - followed:
                        self.generation.offsets.pop(team_id, None)
                    for i in items:
                        if isinstance(i, _Rebuild) and not i.done.done():
                            i.done.set_exception(RuntimeError("search index rebuild failed"))
            self._applied.set()

    async def _next_or_due(self) -> _Event | _Rebuild | None:
        """The next queued item; or None once the staged writes are due for their commit, or a
        search waits for one of their workspaces."""
        due = self._last_commit + self.commit_every_s - time.monotonic()
        if due <= 0 or self._wanted.is_set():
            return None
        get = asyncio.ensure_future(self._queue.get())
        wanted = asyncio.ensure_future(self._wanted.wait())
        try:
            await asyncio.wait({get, wanted}, timeout=due, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wanted.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return None

    async def _commit_pending(self) -> None:
        """Commit the staged writes (their offsets move, the waiting searches go on)."""
        self._wanted.clear()
        shards, offsets = self._pending_shards, self._pending_offsets
        self._pending_shards, self._pending_offsets = set(), {}
        self._last_commit = time.monotonic()
        if shards or offsets:
            self.commits += 1
            await asyncio.to_thread(self._commit, self.generation, shards, offsets)

    def _forget(self, team_ids: set[str]) -> None:
        """Workspaces whose staged writes were lost: rebuilt, as after a failed batch."""
        for team_id in team_ids:
            self.generation.offsets.pop(team_id, None)
            task = self._follows.pop(team_id, None)
            if task is not None:
                task.cancel()

    def _next_batch(self, first: list[_Event | _Rebuild]) -> list[_Event | _Rebuild]:
        """The queued events, and a few of the rebuilds (those someone waits for first), so
        that live events stay fresh while many workspaces are rebuilt (a start on an empty
        index). Deferring a rebuild is safe: its workspace queues no event until it is done."""
        pending = first
        while len(pending) < self.batch and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        rebuilds = self._deferred + [i for i in pending if isinstance(i, _Rebuild)]
        rebuilds.sort(key=lambda r: r.team_id not in self._waited)  # stable: FIFO otherwise
        self._deferred = rebuilds[REBUILDS_PER_BATCH:]
        return [*rebuilds[:REBUILDS_PER_BATCH], *(i for i in pending if isinstance(i, _Event))]

    async def _apply(self, items: list[_Event | _Rebuild]) -> None:
        """Stage the batch in order (events, and workspaces rebuilt from the database), then
        commit once: only then do the offsets move and the waiting searches go on."""
        gen = self.generation
        events: list[_Event] = []
        touched: set[int] = set()
        offsets: dict[str, int] = {}
        rebuilt: list[tuple[_Rebuild, int]] = []
        for item in items:
            if item.gen != gen.name:
                if isinstance(item, _Rebuild):
                    item.done.cancel()
                continue
            if isinstance(item, _Rebuild):
                touched |= await self._stage_events(gen, events, offsets)
                events = []
                n, offset = await fill_team(gen, self.store, item.team_id)
                touched.add(self._shard_of[id(await self.store.shard_of(item.team_id))])
                offsets[item.team_id] = offset  # replaces what the events before it reached
                rebuilt.append((item, n))
            elif item.offset > max(
                gen.offsets.get(item.team_id, 0),
                self._pending_offsets.get(item.team_id, 0),
                offsets.get(item.team_id, 0),
            ):
                events.append(item)
        touched |= await self._stage_events(gen, events, offsets)
        self._pending_shards |= touched
        self._pending_offsets.update(offsets)
        waited = any(team_id in self._waited for team_id in self._pending_offsets)
        if rebuilt or waited or time.monotonic() - self._last_commit >= self.commit_every_s:
            await self._commit_pending()
        for item, n in rebuilt:
            log.info("search index: %s rebuilt from the database (%d messages)", item.team_id, n)
            item.done.set_result(gen.offsets[item.team_id])

    async def _stage_events(self, gen: Generation, events: list[_Event], offsets: dict[str, int]) -> set[int]:
        """Write what the events changed (uncommitted); returns the shards touched."""
        if not events:
            return set()
        refresh: dict[int, dict[Key, None]] = {}
        files: dict[int, list[tuple[Any, ...]]] = {}
        file_flag: dict[Key, bool] = {}
        for e in events:
            i = self._shard_of[id(await self.store.shard_of(e.team_id))]
            offsets[e.team_id] = max(offsets.get(e.team_id, 0), e.offset)
            for op in _changes(e.team_id, orjson.loads(e.payload)):
                if op[0] == "refresh":
                    refresh.setdefault(i, {})[op[1]] = None
                else:
                    files.setdefault(i, []).append(op)
                    if op[0] == "files":
                        file_flag[op[1]] = bool(op[2])
        for i, ops in files.items():
            shard = gen.shards[i]
            for op in ops:
                if op[0] == "files":
                    channel, ts = op[1]
                    listed, team_id, user, replace = op[2], op[3], op[4], op[5]
                    if replace:  # its old file docs go; the message itself is re-read
                        shard.delete_message(channel, ts)
                    for f in listed:
                        if isinstance(f, dict) and f.get("id"):
                            shard.put_file(FileDoc(team_id, channel, ts, user, f))
                elif op[0] == "file_deleted":
                    shard.delete_file(str(op[1]))
        for i, keys in refresh.items():
            shard, db = gen.shards[i], self.store.shards[i]
            wanted = list(keys)
            async with db.read() as conn:
                rows = await _rows(conn, wanted)
            for key in wanted:
                row = rows.get(key)
                if row is None:
                    shard.delete_message(*key)
                    continue
                flag = file_flag[key] if key in file_flag else shard.has_file_flag(*key)
                shard.put_message(message_doc(row, flag))
        self.applied_events += len(events)
        return set(refresh) | set(files)

    @staticmethod
    def _commit(gen: Generation, shards: set[int], offsets: dict[str, int]) -> None:
        for i in sorted(shards):
            gen.shards[i].commit()
        gen.offsets.update(offsets)
        gen.save_offsets()


async def _rows(conn: Conn, keys: list[Key]) -> dict[Key, Row]:
    out: dict[Key, Row] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        rows = await conn.fetchall(
            f"SELECT {ROW} FROM messages m WHERE "
            + " OR ".join(["(m.channel_id = ? AND m.ts = ?)"] * len(chunk)),
            [v for key in chunk for v in key],
        )
        out.update({(str(r[0]), int(r[1])): r for r in rows})
    return out


def _ts(value: Any) -> int | None:
    try:
        return parse_ts(str(value))
    except (ValueError, TypeError):
        return None


def _changes(team_id: str, event: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What an event asks of the index: ``("refresh", key)``, ``("files", key, files, team,
    user, replace)`` (the files a message shares now), ``("file_deleted", file_id)``."""
    kind = event.get("type")
    channel = event.get("channel")
    if kind in ("message", "message_changed") and isinstance(channel, str):
        msg = event.get("message") if kind == "message_changed" else event
        if not isinstance(msg, dict) or (ts := _ts(msg.get("ts"))) is None:
            return []
        key = (channel, ts)
        ops: list[tuple[Any, ...]] = [("refresh", key)]
        listed = msg.get("files")
        listed = listed if isinstance(listed, list) else []
        ops.append(("files", key, listed, team_id, msg.get("user"), kind == "message_changed"))
        parent = _ts(msg.get("thread_ts"))
        if parent is not None and parent != ts:
            ops.append(("refresh", (channel, parent)))  # its thread flag
        return ops
    if kind == "message_deleted" and isinstance(channel, str):
        ts = _ts(event.get("deleted_ts"))
        return [] if ts is None else [("refresh", (channel, ts))]
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item")
        if isinstance(item, dict) and isinstance(item.get("channel"), str):
            ts = _ts(item.get("ts"))
            return [] if ts is None else [("refresh", (item["channel"], ts))]
        return []
    if kind == "file_deleted":
        file_id = event.get("file_id") or (event.get("file") or {}).get("id")
        return [("file_deleted", file_id)] if isinstance(file_id, str) and file_id else []
    return []
