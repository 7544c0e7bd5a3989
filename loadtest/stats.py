"""Small statistics for the benchmark's figures."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(a: float, b: float, digits: int = 1) -> float | None:
    return round(a / b, digits) if b else None
