"""Send queue policy: ephemeral frames go first, then the connection must close (4008)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flannel.rtm.sendqueue import SendQueue
from wire.closecodes import TOO_SLOW


def test_fifo_and_counters() -> None:
    q = SendQueue(capacity=3)
    assert q.put(b"a") and q.put(b"bb", ephemeral=True) and q.put(b"c")
    assert (len(q), q.nbytes) == (3, 4)
    assert q.pop_many() == [b"a", b"bb", b"c"] and q.pop() is None and q.nbytes == 0


def test_full_drops_ephemeral_frames_first() -> None:
    q = SendQueue(capacity=4)
    q.put(b"typing1", ephemeral=True)
    q.put(b"event1")
    q.put(b"typing2", ephemeral=True)
    q.put(b"pong")  # pongs and replies are never ephemeral
    assert q.put(b"event2")
    assert q.dropped_ephemeral == 2 and not q.overflowed
    assert q.pop_many() == [b"event1", b"pong", b"event2"]


def test_full_of_real_frames_means_close_too_slow() -> None:
    q = SendQueue(capacity=2)
    assert q.put(b"e1") and q.put(b"e2")
    assert q.put(b"typing", ephemeral=True)  # dropped, not a failure
    assert q.dropped_ephemeral == 1 and len(q) == 2
    assert not q.put(b"e3")
    assert q.overflowed and TOO_SLOW == 4008
    q.pop()
    assert not q.put(b"e4")  # doomed: the client resumes from the log instead
    assert not q.put(b"typing", ephemeral=True)
    assert (q.refused, q.dropped_ephemeral) == (2, 2)


def test_byte_bound() -> None:
    q = SendQueue(capacity=100, max_bytes=10)
    assert q.put(b"x" * 6, ephemeral=True) and q.put(b"y" * 4)
    assert q.put(b"z" * 5)  # makes room by dropping the ephemeral frame
    assert q.pop_many() == [b"y" * 4, b"z" * 5]
    assert not q.put(b"w" * 11)
    q.clear()
    assert len(q) == 0 and q.nbytes == 0
    with pytest.raises(ValueError):
        SendQueue(capacity=0)


@given(st.lists(st.tuples(st.binary(min_size=1, max_size=8), st.booleans()), max_size=60))
def test_never_over_bounds_and_real_frames_kept_in_order(puts: list[tuple[bytes, bool]]) -> None:
    q = SendQueue(capacity=8, max_bytes=40)
    accepted_real = []
    for frame, ephemeral in puts:
        ok = q.put(frame, ephemeral)
        if not ephemeral and ok:
            accepted_real.append(frame)
        assert len(q) <= 8 and q.nbytes <= 40
        assert q.nbytes == sum(len(f) for f, _ in q.queued())
    queued_real = [f for f, e in q.queued() if not e]
    assert queued_real == accepted_real  # no real frame is ever dropped once accepted
