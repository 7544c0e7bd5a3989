"""Group commit: the writes that queue behind a workspace's lock share one transaction.

Writes to one workspace are serialised (its ``teams`` row is locked first, so its event
offsets commit in order). Rather than one transaction, one lock and one durable commit per
write, the writes of a workspace that arrive while one is running wait in a queue, and a
driver task runs them in one transaction: it locks the row once, lets each queued write run
its body in turn on the shared connection (in its own task, in arrival order), writes all
their events to the outbox with one multi-row insert, and commits once. Every write still
sees the effects of the ones before it and nothing of the ones after, exactly as if they
had run one after the other; offsets stay dense and in commit order.

A write whose body fails is undone alone: before its first statement that writes, a
``SAVEPOINT`` is taken (only when an earlier write of the group wrote something, since
otherwise rolling the whole transaction back and starting again is as cheap), and the
failure rolls back to it. Its buffered events are dropped, so the next write reuses its
offsets. A failed commit fails every write of the group, as a failed commit did before.
A caller's ``async with store.write(...)`` returns only after its group committed.

Batched jobs (:meth:`GroupCommit.submit`): a write given as data (an item for a
:class:`Batcher`) rather than as a body runs in the driver itself, and consecutive jobs of one
batcher in the queue run together: the batcher reads what all of them need, decides each one
in queue order in memory (a job it refuses, a ``SlackError``, wrote nothing and costs its
neighbours nothing), then writes for all of them at once (a few multi-row statements for the
lot instead of a few statements each). Should the batch's statements fail, the batch is undone
(to its savepoint, or by starting the group again when nothing before it is kept) and each of
its jobs runs alone (``Batcher.run_one``, with a savepoint each), as an ordinary write would.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from origin.store.db import Conn, Database, Params, Row
from wire.errors import SlackError

if TYPE_CHECKING:
    from origin.store.shards import WriteTx

log = logging.getLogger(__name__)

MAX_GROUP = 64
"""The most writes one transaction takes (the rest wait for the next one)."""

_OUTBOX_INSERT = "INSERT INTO outbox (team_id, event_offset, type, payload, created) VALUES (?, ?, ?, ?, ?)"


def _lock(db: Database) -> str:
    return "SELECT event_seq FROM teams WHERE id = ?" + db.for_update()


Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Protocol[Item, Result]):
    """Runs jobs (items) of one kind: together when they queue one after another, else alone."""

    def batchable(self, item: Item) -> bool:
        """Whether ``item`` may run in a batch (else it always runs alone)."""
        ...

    async def run_batch(self, tx: WriteTx, items: list[Item]) -> list[Result | Exception]:
        """Run ``items`` in queue order on ``tx`` (one event stream, offsets in that order):
        each one's result, or the exception it was refused with before anything was written
        for it. Raising means the batch failed as a whole: it is undone and its items run
        alone."""
        ...

    async def run_one(self, tx: WriteTx, item: Item) -> Result:
        """Run ``item`` alone on ``tx``."""
        ...


class _Restart(Exception):
    """The first write of a group failed after writing: roll back and start a fresh group."""


class _Member:
    """One queued write: its turn (the tx to use), its outcome and its group's commit."""

    __slots__ = ("committed", "done", "turn")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.turn: asyncio.Future[WriteTx] = loop.create_future()
        self.done: asyncio.Future[BaseException | None] = loop.create_future()
        self.committed: asyncio.Future[None] = loop.create_future()


class _Job(Generic[Item, Result]):
    """One queued batched write: its item, its batcher and its outcome (set after the commit)."""

    __slots__ = ("alone", "batcher", "item", "offset", "outcome")

    def __init__(self, loop: asyncio.AbstractEventLoop, batcher: Batcher[Item, Result], item: Item) -> None:
        self.batcher = batcher
        self.item = item
        self.alone = not batcher.batchable(item)
        self.outcome: asyncio.Future[Result] = loop.create_future()
        self.offset = 0  # the last offset its group committed, when it logged anything

    def fail(self, exc: BaseException) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(exc)
            self.outcome.exception()  # retrieved: a cancelled caller may not look


class MemberConn:
    """The group's connection as one write sees it: takes the savepoint before the write's
    first statement that changes something (``execute``/``executemany``), when needed."""

    __slots__ = ("_conn", "_guard", "wrote")

    def __init__(self, conn: Conn, guard: bool) -> None:
        self._conn = conn
        self._guard = guard  # take a savepoint before writing
        self.wrote = False

    async def _before_write(self) -> None:
        if not self.wrote:
            self.wrote = True
            if self._guard:
                await self._conn.execute("SAVEPOINT flannel_write")

    async def execute(self, sql: str, params: Params = ()) -> int:
        await self._before_write()
        return await self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        await self._before_write()
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._conn.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._conn.fetchall(sql, params)


class _Queue:
    __slots__ = ("driver", "pending")

    def __init__(self) -> None:
        self.pending: deque[_Member | _Job[Any, Any]] = deque()
        self.driver: asyncio.Task[None] | None = None


class GroupCommit:
    """Per-workspace write queues and their drivers (one task per busy workspace)."""

    def __init__(self, on_commit: list[asyncio.Event], max_group: int = MAX_GROUP) -> None:
        self.on_commit = on_commit
        self.max_group = max_group
        self.groups = 0  # transactions committed (a figure for the benchmark)
        self._queues: dict[str, _Queue] = {}

    @asynccontextmanager
    async def write(self, db: Database, team_id: str) -> AsyncIterator[WriteTx]:
        if self.max_group <= 1:
            async with self._alone(db, team_id) as tx:
                yield tx
            return
        loop = asyncio.get_running_loop()
        member = _Member(loop)
        self._queue(loop, db, team_id).pending.append(member)
        try:
            tx = await member.turn
        except asyncio.CancelledError:
            if member.turn.done() and not member.turn.cancelled() and member.turn.exception() is None:
                member.done.set_result(None)  # our turn came as we were cancelled: did nothing
            raise
        try:
            yield tx
        except BaseException as exc:
            member.done.set_result(exc)
            raise
        member.done.set_result(None)
        await asyncio.shield(member.committed)

    async def submit(
        self,
        db: Database,
        team_id: str,
        batcher: Batcher[Item, Result],
        item: Item,
        noted: Callable[[int], None] | None = None,
    ) -> Result:
        """Run ``item`` (see :class:`Batcher`) in the workspace's next group; its result once
        that group committed. A caller cancelled while the job waits takes it out of the
        queue; once its group has started, the job runs and commits regardless.

        ``noted`` is told the last change-log offset committed with the job, when it logged
        something (the job's own events or later ones of its group, committed at the same
        moment): what an answer's ``x-flannel-offset`` says, so an edge can wait for it."""
        if self.max_group <= 1:
            async with self._alone(db, team_id) as tx:
                result = await batcher.run_one(tx, item)
            if noted is not None and tx.events:  # committed
                noted(int(tx.events[-1]["offset"]))
            return result
        loop = asyncio.get_running_loop()
        job = _Job(loop, batcher, item)
        queue = self._queue(loop, db, team_id)
        queue.pending.append(job)
        result = await job.outcome
        if noted is not None and job.offset:
            noted(job.offset)
        return result

    def _queue(self, loop: asyncio.AbstractEventLoop, db: Database, team_id: str) -> _Queue:
        queue = self._queues.get(team_id)
        if queue is None:
            queue = self._queues[team_id] = _Queue()
        if queue.driver is None:
            queue.driver = loop.create_task(self._drive(db, team_id, queue), name=f"write:{team_id}")
        return queue

    @asynccontextmanager
    async def _alone(self, db: Database, team_id: str) -> AsyncIterator[WriteTx]:
        """One transaction for this write alone (``max_group`` 1: the benchmark's baseline)."""
        from origin.store.shards import WriteTx

        async with db.transaction() as conn:
            row = await conn.fetchone(_lock(db), [team_id])
            if row is None:
                raise SlackError("team_not_found")
            tx = WriteTx(conn, db, team_id, int(row[0]))
            yield tx
            await self._finish(conn, team_id, tx.seq, tx.outbox_rows)
        self.groups += 1
        if tx.events:
            self._notify()

    def _notify(self) -> None:
        for waiter in self.on_commit:
            waiter.set()

    @staticmethod
    async def _finish(conn: Conn, team_id: str, seq: int, rows: list[tuple[str, int, str, str, int]]) -> None:
        """The group's events into the outbox (one multi-row insert) and its offset counter."""
        if rows:
            await conn.executemany(_OUTBOX_INSERT, rows)
            await conn.execute("UPDATE teams SET event_seq = ? WHERE id = ?", [seq, team_id])

    async def _drive(self, db: Database, team_id: str, queue: _Queue) -> None:
        try:
            while queue.pending:
                try:
                    await self._group(db, team_id, queue)
                except _Restart:
                    continue
                except Exception:  # each write of that group was given the error already
                    continue
        finally:
            for member in queue.pending:  # only when the driver itself was cancelled
                if isinstance(member, _Job):
                    member.fail(SlackError("internal_error", "write queue stopped"))
                elif not member.turn.done():
                    member.turn.set_exception(SlackError("internal_error", "write queue stopped"))
            queue.pending.clear()
            if self._queues.get(team_id) is queue:
                del self._queues[team_id]

    async def _group(self, db: Database, team_id: str, queue: _Queue) -> None:
        from origin.store.shards import WriteTx

        ran: list[tuple[_Member, WriteTx]] = []  # writes whose bodies succeeded
        taken: list[_Job[Any, Any]] = []  # every job this group took
        succeeded: list[tuple[_Job[Any, Any], Any]] = []  # jobs that succeeded, with their results
        outbox: list[tuple[str, int, str, str, int]] = []  # in offset order
        turns = 0
        try:
            async with db.transaction() as conn:
                row = await conn.fetchone(_lock(db), [team_id])
                if row is None:
                    while queue.pending:
                        member = queue.pending.popleft()
                        if isinstance(member, _Job):
                            member.fail(SlackError("team_not_found"))
                        elif not member.turn.done():
                            member.turn.set_exception(SlackError("team_not_found"))
                    return
                seq = int(row[0])
                dirty = False  # something of this transaction is worth keeping
                while queue.pending and turns < self.max_group:
                    member = queue.pending.popleft()
                    if isinstance(member, _Job):
                        if member.outcome.done():  # cancelled while it waited
                            continue
                        jobs = self._take_batch(member, queue, self.max_group - turns)
                        turns += len(jobs)
                        taken.extend(jobs)
                        seq, dirty = await self._run_jobs(
                            conn, db, team_id, seq, dirty, jobs, queue, succeeded, outbox
                        )
                        continue
                    if member.turn.done():  # cancelled while it waited
                        continue
                    turns += 1
                    mconn = MemberConn(conn, guard=dirty)
                    tx = WriteTx(mconn, db, team_id, seq)
                    member.turn.set_result(tx)
                    failure = await member.done
                    if failure is None:
                        ran.append((member, tx))
                        outbox.extend(tx.outbox_rows)
                        seq = tx.seq
                        dirty = dirty or mconn.wrote or bool(tx.events)
                    elif mconn.wrote:
                        if not dirty:
                            raise _Restart  # nothing kept yet: a fresh transaction is cheaper
                        await conn.execute("ROLLBACK TO SAVEPOINT flannel_write")
                await self._finish(conn, team_id, seq, outbox)
        except _Restart:
            for member, _ in ran:  # they wrote nothing: their outcome needs no commit
                member.committed.set_result(None)
            for job, result in succeeded:
                if not job.outcome.done():
                    job.outcome.set_result(result)
            raise
        except BaseException as exc:
            for member, _ in ran:
                member.committed.set_exception(exc)
                member.committed.exception()  # retrieved: a cancelled caller may not look
            for job in taken:
                job.fail(exc)
            if turns == 0 and isinstance(exc, Exception):
                # the transaction or the lock failed: so does every write waiting for it
                while queue.pending:
                    member = queue.pending.popleft()
                    if isinstance(member, _Job):
                        member.fail(exc)
                    elif not member.turn.done():
                        member.turn.set_exception(exc)
            raise
        self.groups += 1
        for member, _ in ran:
            member.committed.set_result(None)
        for job, result in succeeded:
            if not job.outcome.done():
                job.offset = seq if outbox else 0
                job.outcome.set_result(result)
        if outbox:
            self._notify()

    @staticmethod
    def _take_batch(first: _Job[Any, Any], queue: _Queue, room: int) -> list[_Job[Any, Any]]:
        """``first`` and the jobs of its batcher queued right behind it (none if it runs alone)."""
        jobs = [first]
        while not first.alone and queue.pending and len(jobs) < room:
            nxt = queue.pending[0]
            if not isinstance(nxt, _Job) or nxt.batcher is not first.batcher or nxt.alone:
                break
            queue.pending.popleft()
            if not nxt.outcome.done():  # else cancelled while it waited
                jobs.append(nxt)
        return jobs

    async def _run_jobs(
        self,
        conn: Conn,
        db: Database,
        team_id: str,
        seq: int,
        dirty: bool,
        jobs: list[_Job[Any, Any]],
        queue: _Queue,
        succeeded: list[tuple[_Job[Any, Any], Any]],
        outbox: list[tuple[str, int, str, str, int]],
    ) -> tuple[int, bool]:
        """Run ``jobs`` (one batcher's, in queue order) at offset ``seq``: as one batch unless
        they run alone or the batch fails, then one by one. Returns the new ``seq`` and
        ``dirty``."""
        from origin.store.shards import WriteTx

        batcher = jobs[0].batcher
        if not jobs[0].alone:
            mconn = MemberConn(conn, guard=dirty)
            tx = WriteTx(mconn, db, team_id, seq)
            try:
                outcomes = await batcher.run_batch(tx, [job.item for job in jobs])
            except Exception as exc:
                log.warning(
                    "a batch of %d writes to %s failed (%r): each runs alone", len(jobs), team_id, exc
                )
                if mconn.wrote:
                    if not dirty:  # nothing kept yet: start again, each job alone
                        self._requeue_alone(queue, jobs)
                        raise _Restart from None
                    await conn.execute("ROLLBACK TO SAVEPOINT flannel_write")
                for job in jobs:
                    job.alone = True
            else:
                for job, outcome in zip(jobs, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        job.fail(outcome)
                    else:
                        succeeded.append((job, outcome))
                outbox.extend(tx.outbox_rows)
                return tx.seq, dirty or mconn.wrote or bool(tx.events)
        for i, job in enumerate(jobs):
            mconn = MemberConn(conn, guard=dirty)
            tx = WriteTx(mconn, db, team_id, seq)
            try:
                result = await batcher.run_one(tx, job.item)
            except Exception as exc:
                job.fail(exc)
                if mconn.wrote:
                    if not dirty:
                        self._requeue_alone(queue, jobs[i + 1 :])
                        raise _Restart from None
                    await conn.execute("ROLLBACK TO SAVEPOINT flannel_write")
                continue
            succeeded.append((job, result))
            outbox.extend(tx.outbox_rows)
            seq = tx.seq
            dirty = dirty or mconn.wrote or bool(tx.events)
        return seq, dirty

    @staticmethod
    def _requeue_alone(queue: _Queue, jobs: list[_Job[Any, Any]]) -> None:
        """``jobs`` back at the head of the queue, in order, each to run alone."""
        for job in reversed(jobs):
            job.alone = True
            queue.pending.appendleft(job)
