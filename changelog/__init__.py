"""The change log: each workspace's ordered, bounded, replayable stream of events.

The origin's relay appends outbox rows; edges follow it with a :class:`LogReader`.
:class:`MemoryLog` is the embedded default, :class:`RedisLog` the production backend.
"""

from .log import ChangeLog, Entry, Tail, TailableLog, TooOld
from .memory import MemoryLog
from .reader import LogReader, Subscription
from .redis_log import RedisLog

__all__ = [
    "ChangeLog",
    "Entry",
    "LogReader",
    "MemoryLog",
    "RedisLog",
    "Subscription",
    "Tail",
    "TailableLog",
    "TooOld",
]
