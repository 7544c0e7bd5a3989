"""Read-your-writes at the edge: a caller's next read waits for the caller's own last write.

A write goes to the origin, which answers with the change-log offset it committed
(``x-flannel-offset``, :data:`wire.http.OFFSET_HEADER`); the edge's copy applies that offset a
moment later, when the log delivers it. A read answered from memory in between would not
show the write (a channel just created is ``channel_not_found``, a rename shows the old name).
So the edge remembers, per caller, the last offset its writes committed, and a read from
memory first waits, briefly, until the copy has applied it; a copy still behind after that
answers by forwarding the read to the origin. A caller may also name the offset itself
(``x-flannel-after``: the router passes on the one it saw, so this holds across edges).

Callers are keyed by their token's hash (HTTP) or ``TEAM:USER`` (WebSocket frames carry no
token); a read checks every key it knows for its caller.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from wire.http import AFTER_HEADER, OFFSET_HEADER
from wire.offsets import header_offset

#: How long a read waits for the copy to apply the caller's write before asking the origin.
WAIT_S = 2.0


def user_key(team_id: str, user_id: str) -> str:
    return f"{team_id}:{user_id}"


def offset_of(headers: Mapping[str, str], name: str = OFFSET_HEADER) -> int | None:
    """A non-negative offset from a header (absent or malformed: None)."""
    return header_offset(headers.get(name))  # ASCII digits only: "²" is a digit to isdigit()


def asked_after(headers: Mapping[str, str]) -> int:
    """The offset the request itself asks to be answered after (``x-flannel-after``)."""
    return offset_of(headers, AFTER_HEADER) or 0


class OwnWrites:
    """The last offset each caller's writes committed, bounded (least recently used first out:
    a forgotten caller's read just is not held back)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max_keys = max_keys
        self._by_key: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_key)

    def note(self, key: str, offset: int | None) -> None:
        if not key or not offset:
            return
        self._by_key[key] = max(offset, self._by_key.pop(key, 0))
        while len(self._by_key) > self._max_keys:
            self._by_key.popitem(last=False)

    def target(self, keys: Iterable[str], applied: int) -> int:
        """The offset a read by these keys must wait for, or 0 when the copy (at ``applied``)
        already has every write of theirs; those are forgotten."""
        best = 0
        for key in keys:
            offset = self._by_key.get(key)
            if offset is None:
                continue
            if offset <= applied:
                del self._by_key[key]
            else:
                best = max(best, offset)
        return best
