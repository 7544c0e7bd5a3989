"""Send queue policy (ephemeral first, then close 4008) and the drain schedule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flannel.rtm.sendqueue import CLOSE_TOO_SLOW, Drainer, SendQueue


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
    assert q.overflowed and CLOSE_TOO_SLOW == 4008
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
        assert q.nbytes == sum(len(f) for f, _ in q._frames)
    queued_real = [f for f, e in q._frames if not e]
    assert queued_real == accepted_real  # no real frame is ever dropped once accepted


def test_drainer_spreads_goodbyes_over_the_window() -> None:
    drainer = Drainer(window_s=10.0, seed=7)
    delays = drainer.delays(1000)
    assert all(0 <= d < 10.0 for d in delays)
    slots = sorted(int(d / 0.01) for d in delays)  # one connection per 10 ms slot
    assert slots == list(range(1000))
    assert delays == Drainer(window_s=10.0, seed=7).delays(1000)  # deterministic
    assert delays != Drainer(window_s=10.0, seed=8).delays(1000)
    assert drainer.delay(3, 1000) == delays[3]
    assert delays[:10] != sorted(delays[:10])  # neighbours are scattered, not in index order


def test_drainer_schedule_and_edges() -> None:
    drainer = Drainer(window_s=2.0)
    plan = drainer.schedule(["a", "b", "c"])
    assert sorted(c for _, c in plan) == ["a", "b", "c"]
    assert [d for d, _ in plan] == sorted(d for d, _ in plan)
    assert drainer.delays(0) == [] and drainer.schedule([]) == []
    assert 0 <= drainer.delay(0, 1) < 2.0
    assert Drainer(window_s=0).delays(3) == [0.0, 0.0, 0.0]
    with pytest.raises(IndexError):
        drainer.delay(3, 3)
