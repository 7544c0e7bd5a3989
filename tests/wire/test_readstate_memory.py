"""The read state's memory estimate (windows, previews, cursors) against tracemalloc, and the
edge workspace's estimate including it."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from wire.readstate import ReadState


def build(channels: int, per: int, cursors: int, seed: int = 1) -> ReadState:
    rng = random.Random(seed)
    reads = ReadState()
    for c in range(channels):
        channel = f"C{c:010d}"
        for i in range(per):
            text = f"message {i} " + ("<@U0000000001> " if i % 5 == 0 else "") + "x" * rng.randint(0, 80)
            event = {"type": "message", "channel": channel, "ts": f"{1700000000 + i}.{c:06d}"}
            event |= {"user": f"U{i % 50:010d}", "text": text}
            if i % 7 == 3:
                event["thread_ts"] = f"{1700000000 + i - 1}.{c:06d}"
            reads.apply(event)
        for u in range(cursors):
            ts = f"{1700000000 + per // 2}.{c:06d}"
            reads.apply({"type": "channel_marked", "channel": channel, "user": f"U{u:010d}", "ts": ts})
    return reads


@pytest.mark.parametrize(("channels", "per", "cursors"), [(300, 100, 20), (2000, 3, 2), (40, 100, 1500)])
def test_estimate_is_close_to_traced_memory(channels: int, per: int, cursors: int) -> None:
    tracemalloc.start()
    try:
        reads = build(channels, per, cursors)
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.85 <= reads.estimate_bytes() / traced <= 1.15


def test_estimate_follows_evictions_edits_and_deletes() -> None:
    reads = build(1, 100, 0)
    window = reads.windows["C0000000000"]
    assert window.chars == sum(len(e.preview) for e in window.entries.values())
    before = reads.estimate_bytes()
    reads.apply(
        {"type": "message", "channel": "C0000000000", "ts": "1800000000.000000", "user": "U1", "text": "y"}
    )
    assert len(window.order) == 100  # one in, the oldest out
    first = window.order[0]
    reads.apply(
        {
            "type": "message_changed",
            "channel": "C0000000000",
            "message": {"ts": f"{first / 1e6:.6f}", "text": "z" * 90},
        }
    )
    reads.apply({"type": "message_deleted", "channel": "C0000000000", "deleted_ts": "1800000000.000000"})
    assert window.chars == sum(len(e.preview) for e in window.entries.values())
    assert reads.estimate_bytes() < before + 200
