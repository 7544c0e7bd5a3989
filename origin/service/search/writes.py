"""Read-your-writes for search: which offset of the workspace's log a search must wait for.

An index answers searches as of the last change-log offset it applied. Whoever just posted,
edited, deleted or reacted must find the result at once; everyone else may see the index as
it is (it follows the log within a second). So a search waits only for the caller's own
latest write that the index has not applied yet, not for the workspace's last write: on a
busy workspace every search would otherwise wait for everyone's writes.

The outbox (the log's source) is read from the index's applied offset on: the unapplied
tail, usually empty, so one primary-key range that finds nothing. An event is the caller's
when its payload names them as its ``user`` or ``user_id`` (messages, edits of their
messages, reactions, files shared and deleted: the shapes `origin.service.messages`,
`origin.service.reactions` and `origin.files` emit). A delete is
always waited for, since an admin may delete another's message and its payload names the
author only. Only the newest `TAIL` events are read: when the tail is longer (the index is
far behind), the older ones were not looked at and might be the caller's, so the wait
covers them too. The wait itself is bounded by the caller (`WAIT_S`).
"""

from __future__ import annotations

from typing import Final

from origin.store.db import Database

TAIL: Final = 512
"""At most this many unapplied events are looked at."""
ALWAYS: Final = ("message_deleted",)
"""Event types waited for whoever wrote them."""


def user_patterns(user_id: str) -> tuple[str, str]:
    """``LIKE`` patterns of an event payload naming `user_id` as its ``user`` or ``user_id``
    (compact JSON, as ``orjson.dumps`` writes it; ``file_deleted`` and ``file_shared`` name
    the actor ``user_id``)."""
    escaped = user_id.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f'%"user":"{escaped}"%', f'%"user_id":"{escaped}"%'


async def own_offset(db: Database, team_id: str, user_id: str, applied: int, tail: int = TAIL) -> int:
    """The offset a search by `user_id` must wait for: their newest event after `applied`
    (or the oldest one not looked at, see the module docstring); `applied` when there is
    none, so nothing to wait for."""
    always = ", ".join(f"'{t}'" for t in ALWAYS)
    sql = (
        "SELECT COUNT(*), MIN(event_offset), "
        f"MAX(CASE WHEN type IN ({always}) OR payload LIKE ? ESCAPE '!' OR payload LIKE ? ESCAPE '!' "
        "THEN event_offset END) "
        "FROM (SELECT event_offset, type, payload FROM outbox WHERE team_id = ? AND event_offset > ? "
        "ORDER BY event_offset DESC LIMIT ?) t"
    )
    async with db.read() as conn:
        row = await conn.fetchone(sql, [*user_patterns(user_id), team_id, applied, tail])
    if row is None or not row[0]:
        return applied
    wanted = applied if row[2] is None else int(row[2])
    if int(row[0]) >= tail:  # more than we looked at: the older ones may be the caller's
        wanted = max(wanted, int(row[1]) - 1)
    return wanted
