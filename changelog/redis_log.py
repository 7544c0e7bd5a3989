"""The change log on Redis Streams: one stream per workspace, shared by a region's edges.

Key layout (every key starts with ``prefix``; workspace ids may not contain ``:``):

- ``{prefix}log:{team_id}``        stream; entry id ``{offset}-1``, fields ``d`` (payload) and
  ``t`` (append time, unix ms). Because ids are the offsets, Redis orders and dedups them.
- ``{prefix}log:{team_id}:floor``  lowest readable offset. Set to the first offset appended to
  an empty, floor-less stream and raised whenever retention trims; it answers :class:`TooOld`
  even for a fully trimmed or freshly recreated stream.
- ``{prefix}log:epoch``            random marker, created when missing (see :meth:`epoch`).
- ``{prefix}logidx:oldest``        sorted set workspace -> ``t`` of its oldest entry, so age
  retention visits only workspaces that have something to drop.
- ``{prefix}logwake:{random}``     one tiny stream per :class:`RedisTail`, used to interrupt its
  blocking read (deleted on close, expires if the process dies).

Redis must not evict these keys (``maxmemory-policy noeviction``); it may lose all of them at
once (a restart without persistence), which readers detect as explained in ``reader.py``.
Writes and trims run as Lua scripts, so a reader never sees a trimmed stream with a stale floor.
Not for Redis Cluster: the age index spans workspaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisError, ResponseError

from .log import Entry, TooOld, check_batch, check_team
from .retention import Retained

_LUA_COMMON = """
local function off(id) return tonumber(string.match(id, '^%d+')) end

local function stamp(entry)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == 't' then return tonumber(f[i + 1]) end end
  return 0
end

local function last_offset(stream, floorkey)
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #top > 0 then return off(top[1][1]) end
  local f = redis.call('GET', floorkey)
  if f then return tonumber(f) - 1 end
  return 0
end

-- Count then age retention for one stream; the floor key and the age index follow along.
local function trim(stream, floorkey, index, member, now, maxlen, maxage, last)
  local dropped = false
  if maxlen >= 0 and redis.call('XLEN', stream) > maxlen then
    redis.call('XTRIM', stream, 'MAXLEN', maxlen)
    dropped = true
  end
  if maxage >= 0 then
    local cutoff = now - maxage
    local oldest = redis.call('ZSCORE', index, member)
    if dropped or (not oldest) or tonumber(oldest) < cutoff then
      local cut = nil
      local start = '-'
      repeat
        local rows = redis.call('XRANGE', stream, start, '+', 'COUNT', 128)
        local more = #rows == 128
        for i = 1, #rows do
          if stamp(rows[i]) < cutoff then cut = rows[i][1] else more = false; break end
        end
        if more then start = '(' .. rows[#rows][1] end
      until not more
      if cut then
        redis.call('XTRIM', stream, 'MINID', string.format('%d-0', off(cut) + 1))
        dropped = true
      end
    end
  end
  if not dropped then return end
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  local floor = last + 1
  if #first > 0 then floor = off(first[1][1]) end
  if floor > tonumber(redis.call('GET', floorkey) or '0') then
    redis.call('SET', floorkey, string.format('%d', floor))
  end
  if #first > 0 then
    redis.call('ZADD', index, stamp(first[1]), member)
  else
    redis.call('ZREM', index, member)
  end
end
"""

# KEYS: stream, floor, index. ARGV: team, now_ms, max_len, max_age_ms, offset1, payload1, ...
_APPEND = (
    _LUA_COMMON
    + """
local stream, floorkey, index, member = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local last = last_offset(stream, floorkey)
local added = 0
for i = 5, #ARGV, 2 do
  local offset = tonumber(ARGV[i])
  if offset > last then
    redis.call('XADD', stream, ARGV[i] .. '-1', 'd', ARGV[i + 1], 't', ARGV[2])
    if added == 0 then
      redis.call('SET', floorkey, ARGV[i], 'NX')
      redis.call('ZADD', index, 'NX', ARGV[2], member)
    end
    last = offset
    added = added + 1
  end
end
if added > 0 then
  trim(stream, floorkey, index, member, tonumber(ARGV[2]), tonumber(ARGV[3]),
       tonumber(ARGV[4]), last)
end
return added
"""
)

# KEYS: stream, floor, index. ARGV: team, now_ms, max_len, max_age_ms
_TRIM = (
    _LUA_COMMON
    + """
trim(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
     tonumber(ARGV[4]), last_offset(KEYS[1], KEYS[2]))
return 0
"""
)


def _offset(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.partition("-")[0])


def _entries(rows: Sequence[Any]) -> list[Entry]:
    return [(_offset(entry_id), bytes(fields[b"d"])) for entry_id, fields in rows]


class RedisLog(Retained):
    """Change log on Redis Streams (see the module docstring for the key layout).

    ``max_len`` bounds the events kept per workspace and ``max_age_s`` their age (``None``
    disables either bound). Count retention runs on every append; age retention on append and
    in :meth:`trim`, which runs every ``trim_every_s`` seconds once this process appended.
    """

    TRIM_SURVIVES = (RedisError, OSError)

    def __init__(
        self,
        redis_url: str,
        prefix: str = "flannel:",
        max_len: int | None = 10_000,
        max_age_s: float | None = 86_400.0,
        *,
        clock: Callable[[], float] = time.time,
        trim_every_s: float | None = 60.0,
    ) -> None:
        super().__init__(max_len, max_age_s, clock, trim_every_s)
        self.redis_url = redis_url
        self.prefix = prefix
        self._redis = Redis.from_url(
            redis_url,
            protocol=2,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3),
        )
        self._append = self._redis.register_script(_APPEND)
        self._trim = self._redis.register_script(_TRIM)
        self._index_key = f"{prefix}logidx:oldest"
        self._epoch_key = f"{prefix}log:epoch"

    def stream_key(self, team_id: str) -> str:
        check_team(team_id)
        return f"{self.prefix}log:{team_id}"

    def floor_key(self, team_id: str) -> str:
        return f"{self.stream_key(team_id)}:floor"

    async def append(self, team_id: str, events: Sequence[Entry]) -> int:
        return await self.append_many([(team_id, events)])

    async def append_many(self, batches: Sequence[tuple[str, Sequence[Entry]]]) -> int:
        """One round trip for every workspace's batch: the append scripts, pipelined."""
        calls: list[tuple[list[str], list[bytes | str | int]]] = []
        now = self._now_ms()
        for team_id, events in batches:
            check_batch(events)
            if events:
                args: list[bytes | str | int] = [team_id, now, *self._limits()]
                for offset, payload in events:
                    args += [offset, payload]
                calls.append((self._keys(team_id), args))
        if not calls:
            return 0
        if len(calls) == 1:
            added = int(await self._append(keys=calls[0][0], args=calls[0][1]))
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await self._append(keys=keys, args=args, client=pipe)
                added = sum(int(n) for n in await pipe.execute())
        self._start_trimmer()
        return added

    async def read(self, team_id: str, after: int, limit: int = 1000) -> list[Entry]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.floor_key(team_id))
            pipe.xrange(self.stream_key(team_id), min=f"{after + 1}-0", max="+", count=limit)
            raw_floor, rows = await pipe.execute()
        floor = 1 if raw_floor is None else int(raw_floor)
        if after + 1 < floor:
            raise TooOld(team_id, after, floor)
        return _entries(rows)

    async def last_offset(self, team_id: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xrevrange(self.stream_key(team_id), max="+", min="-", count=1)
            pipe.get(self.floor_key(team_id))
            top, raw_floor = await pipe.execute()
        if top:
            return _offset(top[0][0])
        return 0 if raw_floor is None else int(raw_floor) - 1

    async def floor(self, team_id: str) -> int:
        raw = await self._redis.get(self.floor_key(team_id))
        return 1 if raw is None else int(raw)

    async def trim(self) -> None:
        """Age retention for every workspace whose oldest entry expired (count is kept on append)."""
        if self.max_age_s is None:
            return
        now = self._now_ms()
        cutoff = now - int(self.max_age_s * 1000)
        previous: list[Any] = []
        while True:
            teams: list[Any] = await self._redis.zrangebyscore(
                self._index_key, "-inf", f"({cutoff}", start=0, num=256
            )
            if not teams or teams == previous:
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for raw in teams:
                    team_id = raw.decode()
                    args: list[str | int] = [team_id, now, *self._limits()]
                    await self._trim(keys=self._keys(team_id), args=args, client=pipe)
                await pipe.execute()
            previous = teams

    async def epoch(self) -> str:
        """A random marker that changes only when Redis lost its data.

        Redis here keeps nothing on disk, so a restart drops every stream. The relay remembers
        the epoch it published under; when ``epoch()`` returns something else it must republish
        its retained outbox rows, with their original offsets, oldest first. Readers waiting
        above the republished range resume without loss or duplicates; readers below it get
        :class:`TooOld` (the first offset appended to an empty stream becomes its floor).
        """
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._epoch_key, uuid.uuid4().hex, nx=True)
            pipe.get(self._epoch_key)
            _, value = await pipe.execute()
        return bytes(value).decode()

    def open_tail(self) -> RedisTail:
        return RedisTail(self)

    async def close(self) -> None:
        await self._stop_trimmer()
        await self._redis.aclose()

    @property
    def client(self) -> Redis:
        """The shared (non-blocking) client, for tails and tests."""
        return self._redis

    def _keys(self, team_id: str) -> list[str]:
        return [self.stream_key(team_id), self.floor_key(team_id), self._index_key]

    def _limits(self) -> list[int]:
        max_len = -1 if self.max_len is None else self.max_len
        max_age = -1 if self.max_age_s is None else int(self.max_age_s * 1000)
        return [max_len, max_age]

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


class RedisTail:
    """``XREAD BLOCK`` over exactly the followed streams, on one dedicated connection.

    A blocked ``XREAD`` cannot take new keys, so the read also watches a private wake stream:
    :meth:`wake` appends to it and the pending read returns at once, to be re-issued with the
    new set. Connection errors propagate; the caller backs off and calls again, which reconnects.
    """

    GRACE_S = 10.0  # beyond the block time, how long a silent connection is trusted

    def __init__(self, log: RedisLog) -> None:
        self._log = log
        self._wake_key = f"{log.prefix}logwake:{uuid.uuid4().hex}"
        self._wake_seq = 0  # wakes sent
        self._issued_seq = 0  # wakes sent before the pending read was issued
        self.client_name = re.sub(r"[^\w:.-]", "_", f"{log.prefix}tail")
        self._client = Redis.from_url(
            log.redis_url,
            protocol=2,
            single_connection_client=True,
            client_name=self.client_name,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0),
        )

    async def next_batch(
        self, cursors: Mapping[str, int], count: int, block_s: float
    ) -> list[tuple[str, list[Entry]]]:
        teams = {self._log.stream_key(team_id): team_id for team_id in cursors}
        streams: dict[bytes | str | memoryview, int | bytes | str | memoryview] = {
            key: f"{cursors[team_id]}-1" for key, team_id in teams.items()
        }
        self._issued_seq = self._wake_seq
        streams[self._wake_key] = f"{self._wake_seq}-1"  # wakes sent after this call count
        block_ms = max(1, int(block_s * 1000))
        async with asyncio.timeout(block_s + self.GRACE_S):
            reply: Any = await self._client.xread(streams, count=count, block=block_ms)
        batches: list[tuple[str, list[Entry]]] = []
        for raw_key, rows in reply or ():
            team_id = teams.get(raw_key.decode())
            if team_id is not None and rows:
                batches.append((team_id, _entries(rows)))
        return batches

    async def wake(self) -> None:
        if self._wake_seq > self._issued_seq:
            return  # already woken: the next read is built after this call's change
        self._wake_seq += 1
        seq = self._wake_seq
        try:
            async with self._log.client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": b""}, id=f"{seq}-1", maxlen=1, approximate=False)
                pipe.expire(self._wake_key, 3600)
                await pipe.execute()
        except ResponseError:
            pass  # a later wake got there first: the read is interrupted anyway
        except (RedisError, OSError):
            pass  # the blocked read fails too, or its block timeout re-issues it

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._log.client.delete(self._wake_key)
        await self._client.aclose()
