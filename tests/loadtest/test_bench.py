"""The benchmark runs end to end (figures are not asserted: machines here are noisy)."""

from __future__ import annotations

from pathlib import Path

import orjson

from loadtest import bench


def test_quick_embedded_bench_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert bench.main(["--quick", "--embedded", "--json", str(out)]) == 0
    figures = orjson.loads(out.read_bytes())
    for key in ("changelog.events_per_s", "changelog.p50_ms", "changelog.p99_ms", "machine.cores"):
        assert key in figures
    assert figures["changelog.events"] == 2000
