"""The relay: publishes committed outbox rows to the change log, in order, exactly once
as readers see it.

Each round takes the unpublished rows of every shard in (workspace, offset) order (up to
``batch`` a shard: a burst of commits is drained in one pass) and appends them to the log,
every workspace's share in one round trip. The log refuses an offset it already holds (the
stream entry id is the offset, and the append script skips anything at or below the
stream's last offset), so publishing a row twice is harmless: readers see each event once.
That is why the relay does not mark rows published durably on every pass (one more fsync per
pass, as many as the writes' own commits): it remembers in memory, per workspace, the last
offset it appended, reads only above it, and marks the appended rows published in one
transaction every ``mark_every_s`` (or once ``mark_max`` rows wait, or when it stops). A crash
(kill -9) before the marks only means those rows are appended again after a restart and
refused by the log. A row committed but not yet appended is simply still unpublished, and
the next relay to run publishes it.

If the log loses its data (a Redis restart with no persistence: its epoch marker changes),
the relay forgets what it appended and republishes, from the outbox, what the log no longer
has, so readers that were following lose nothing; a reader further behind than the outbox
reaches gets ``TooOld``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from changelog.log import ChangeLog
from origin.store.db import Database
from origin.store.shards import Store

log = logging.getLogger("flannel.origin.relay")

Fault = Callable[[str], None]

MARK_CHUNK = 500
"""Offsets marked published per statement (well under any database's parameter limit)."""

MARK_TEAMS = 200
"""Workspaces with appended but unmarked rows, per shard, before the marks are written anyway
(each one is a term of the pass's read)."""


def no_fault(point: str) -> None:
    """The production fault hook: does nothing. Tests pass one that kills the process."""


class Relay:
    """Moves committed outbox rows into the change log: the one writer of every workspace's log.

    Why a relay and not a publish inside each write: the event is committed with the data in one
    transaction (so a crash can never keep one without the other), and publishing happens after,
    at least once, in offset order. A commit wakes it (``store.on_commit``); otherwise it polls
    every ``poll_s``. It also prunes published rows older than ``outbox_keep_s`` and, when the
    log lost its data (epoch changed), republishes up to ``republish_max`` rows from the outbox.
    """

    def __init__(
        self,
        store: Store,
        changelog: ChangeLog,
        batch: int = 1000,
        poll_s: float = 0.5,
        outbox_keep_s: float = 24 * 3600,
        republish_max: int = 100_000,
        fault: Fault = no_fault,
        mark_every_s: float = 0.25,
        mark_max: int = 5000,
    ) -> None:
        self.store = store
        self.changelog = changelog
        self.batch = batch
        self.poll_s = poll_s
        self.outbox_keep_s = outbox_keep_s
        self.republish_max = republish_max
        self.fault = fault
        self.mark_every_s = mark_every_s
        self.mark_max = mark_max
        self.published = 0
        self.marks = 0  # transactions that marked rows published (a figure for the benchmark)
        self.passes = 0  # publishing passes that moved something (a figure for the benchmark)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._epoch: str | None = None
        self._last_prune = 0.0
        self._stopping = False
        # Per shard: workspace -> the last offset appended by this relay, and the appended
        # offsets not yet marked published (memory only: lost on a crash, which is harmless).
        self._sent: dict[int, dict[str, int]] = {}
        self._unmarked: dict[int, dict[str, list[int]]] = {}
        self._unmarked_rows = 0
        self._oldest_unmarked = 0.0
        store.on_commit.append(self._wake)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="relay")

    async def stop(self) -> None:
        self._stopping = True
        if self._wake in self.store.on_commit:
            self.store.on_commit.remove(self._wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:  # so that a restart does not append them again (harmless, but wasted work)
            await self.mark_published()
        except Exception:
            log.warning("relay: could not mark the last published rows at stop", exc_info=True)

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._check_epoch()
                moved = await self.publish_once()
                await self._maybe_mark()
                await self._maybe_prune()
            except asyncio.CancelledError:
                raise
            except Exception:  # the log or a database is down: retry, never give up
                if self._stopping:  # a driver may turn the cancellation into its own error
                    return
                log.exception("relay round failed; retrying")
                await asyncio.sleep(self.poll_s)
                continue
            if moved == 0:
                self._wake.clear()
                wait_s = self.poll_s
                if self._unmarked_rows:  # wake in time to write the marks
                    due = self._oldest_unmarked + self.mark_every_s - time.monotonic()
                    wait_s = max(0.0, min(wait_s, due))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_s)

    async def publish_once(self) -> int:
        """Publish one batch from every shard; return how many rows moved."""
        total = 0
        for db in self.store.shards:
            total += await self._publish_shard(db)
        return total

    async def _publish_shard(self, db: Database) -> int:
        """One pass over a shard: up to ``batch`` rows not yet appended (unpublished, above the
        offset this relay last appended for their workspace), every workspace's share appended
        in one round trip to the log; their marks wait for :meth:`mark_published`."""
        shard = self.store.shards.index(db)
        sent = self._sent.setdefault(shard, {})
        sql = "SELECT team_id, event_offset, payload FROM outbox WHERE published = 0"
        params: list[Any] = []
        if sent:
            whens = " ".join("WHEN ? THEN ?" for _ in sent)
            sql += f" AND event_offset > CASE team_id {whens} ELSE 0 END"
            for team_id, offset in sent.items():
                params += [team_id, offset]
        async with db.read() as conn:
            rows = await conn.fetchall(f"{sql} ORDER BY team_id, event_offset LIMIT ?", [*params, self.batch])
        if not rows:
            return 0
        by_team: dict[str, list[tuple[int, bytes]]] = {}
        for team_id, offset, payload in rows:
            by_team.setdefault(str(team_id), []).append((int(offset), _bytes(payload)))
        self.fault("before_append")
        await self.changelog.append_many(list(by_team.items()))
        self.fault("after_append")
        unmarked = self._unmarked.setdefault(shard, {})
        if not self._unmarked_rows:
            self._oldest_unmarked = time.monotonic()
        for team_id, entries in by_team.items():
            sent[team_id] = entries[-1][0]
            unmarked.setdefault(team_id, []).extend(offset for offset, _ in entries)
        self._unmarked_rows += len(rows)
        self.published += len(rows)
        self.passes += 1
        return len(rows)

    async def _maybe_mark(self) -> None:
        if not self._unmarked_rows:
            return
        due = time.monotonic() - self._oldest_unmarked >= self.mark_every_s
        crowded = any(len(teams) >= MARK_TEAMS for teams in self._sent.values())
        if due or crowded or self._unmarked_rows >= self.mark_max:
            await self.mark_published()

    async def mark_published(self) -> int:
        """Mark every row appended so far published, one transaction a shard; return how many.

        Only the outbox's bookkeeping (pruning, the backlog figure, the search indexer's check
        of a lost log) reads the marks; publishing reads this relay's memory."""
        if not self._unmarked_rows:
            return 0
        marked = 0
        self.fault("before_mark")
        for shard, teams in list(self._unmarked.items()):
            if not teams:
                continue
            db = self.store.shards[shard]
            async with db.transaction() as conn:
                for team_id, offsets in teams.items():
                    # The offsets by equality on the primary key, not a range: a range would
                    # also lock the gap above it and hold up the next insert into the outbox.
                    for i in range(0, len(offsets), MARK_CHUNK):
                        chunk = offsets[i : i + MARK_CHUNK]
                        marks = ", ".join("?" * len(chunk))
                        await conn.execute(
                            "UPDATE outbox SET published = 1 "
                            f"WHERE team_id = ? AND event_offset IN ({marks})",
                            [team_id, *chunk],
                        )
            count = sum(len(offsets) for offsets in teams.values())
            marked += count
            self._unmarked_rows -= count
            del self._unmarked[shard]
            # The workspaces marked no longer need a term in the pass's read: their rows
            # up to there are published = 1 now.
            sent = self._sent.get(shard, {})
            for team_id in teams:
                sent.pop(team_id, None)
            self.marks += 1
        self._oldest_unmarked = time.monotonic()
        return marked

    async def _check_epoch(self) -> None:
        epoch_of = getattr(self.changelog, "epoch", None)
        if epoch_of is None:
            return
        epoch = await epoch_of()
        if epoch != self._epoch:
            if self._epoch is not None:
                log.warning("change log lost its data (epoch changed): republishing from the outbox")
            # Rows appended but not yet marked are in the lost log too: forget them, so that
            # the next pass reads them again (they are still published = 0).
            self._sent.clear()
            self._unmarked.clear()
            self._unmarked_rows = 0
            await self.republish_missing()
            self._epoch = epoch

    async def republish_missing(self) -> int:
        """Append, per workspace, the outbox rows the log does not hold (after its last offset)."""
        moved = 0
        for db in self.store.shards:
            async with db.read() as conn:
                teams = [str(r[0]) for r in await conn.fetchall("SELECT DISTINCT team_id FROM outbox")]
            for team_id in teams:
                last = await self.changelog.last_offset(team_id)
                async with db.read() as conn:
                    newest = await conn.fetchone(
                        "SELECT MAX(event_offset) FROM outbox WHERE team_id = ?", [team_id]
                    )
                    top = int(newest[0]) if newest and newest[0] is not None else 0
                    start = max(last, top - self.republish_max)
                    rows = await conn.fetchall(
                        "SELECT event_offset, payload FROM outbox WHERE team_id = ? AND event_offset > ? "
                        "AND published = 1 ORDER BY event_offset",
                        [team_id, start],
                    )
                if rows:
                    await self.changelog.append(team_id, [(int(o), _bytes(p)) for o, p in rows])
                    moved += len(rows)
        return moved

    async def _maybe_prune(self) -> None:
        """Drop published outbox rows older than the keep window (the log holds them now)."""
        now = time.time()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        cutoff = int((now - self.outbox_keep_s) * 1_000_000)
        for db in self.store.shards:
            async with db.transaction() as conn:
                await conn.execute("DELETE FROM outbox WHERE published = 1 AND created < ?", [cutoff])

    async def backlog(self) -> int:
        """Rows committed but not yet appended across all shards (a health figure)."""
        total = 0
        for db in self.store.shards:
            async with db.read() as conn:
                row = await conn.fetchone("SELECT COUNT(*) FROM outbox WHERE published = 0")
            total += int(row[0]) if row else 0
        return max(0, total - self._unmarked_rows)


def _bytes(payload: Any) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)
