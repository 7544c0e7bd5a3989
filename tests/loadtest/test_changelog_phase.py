"""The change-log phase (loadtest/phases/changelog.py) on SQLite with the in-memory log: every
figure is there, offsets were dense (the phase checks them), and the grouped side shared its
commits (a figure the runs determine: 8 writers queue 8 posts per transaction)."""

from __future__ import annotations

from pathlib import Path

from loadtest.phases import changelog


async def test_the_phase_reports_grouped_ungrouped_and_reply_figures(tmp_path: Path) -> None:
    out = await changelog.run([f"sqlite:///{tmp_path}/cl.db"], None, "t:", events=96, writers=(8,))
    assert out["changelog.backend"] == "sqlite+memory"
    for suffix in ("_8w", "_8w_ungrouped", "_replies_8w"):
        assert out[f"changelog.events_per_s{suffix}"] > 0
        assert out[f"changelog.p99_ms{suffix}"] >= out[f"changelog.p50_ms{suffix}"]
    assert out["changelog.writes_per_commit_8w_ungrouped"] == 1.0
    assert out["changelog.writes_per_commit_8w"] > 1.0
    assert out["changelog.writes_per_commit_replies_8w"] > 1.0
    assert out["changelog.events_per_s"] == out["changelog.events_per_s_8w"]
