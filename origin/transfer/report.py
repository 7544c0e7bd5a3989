"""The import report: counts per kind imported and skipped (and why), as ``mmetl check`` gives,
plus the first few items of each problem so an admin can find them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Items kept per (kind, reason); the counts are always complete.
SAMPLES = 20


@dataclass
class Report:
    imported: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    warnings: dict[str, Counter[str]] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.imported[kind] += n

    def skip(self, kind: str, reason: str, item: str) -> None:
        self.skipped.setdefault(kind, Counter())[reason] += 1
        self._sample(f"{kind}.{reason}", item)

    def warn(self, kind: str, reason: str, item: str) -> None:
        """Imported, but not as the export had it (a user without an email...)."""
        self.warnings.setdefault(kind, Counter())[reason] += 1
        self._sample(f"{kind}.{reason}", item)

    def _sample(self, key: str, item: str) -> None:
        samples = self.items.setdefault(key, [])
        if len(samples) < SAMPLES:
            samples.append(item)

    def skipped_count(self, kind: str, reason: str | None = None) -> int:
        counts = self.skipped.get(kind, Counter())
        return counts[reason] if reason else sum(counts.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": dict(sorted(self.imported.items())),
            "skipped": {k: dict(v) for k, v in sorted(self.skipped.items())},
            "warnings": {k: dict(v) for k, v in sorted(self.warnings.items())},
            "items": dict(sorted(self.items.items())),
        }
