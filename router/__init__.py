"""The router: pins each client to the edge cache most likely warm for its workspace.

Imports nothing else of the repo; the placement logic is pure and lives in ``router.placement``.
"""

from router.placement import (
    DEFAULT_C,
    DEFAULT_SPILL_K,
    DEFAULT_VNODES,
    Edge,
    NoEdgeAvailable,
    Placement,
    Placer,
    Reason,
    WarmRegistry,
    ring_order,
    stable_hash,
)

__all__ = [
    "DEFAULT_C",
    "DEFAULT_SPILL_K",
    "DEFAULT_VNODES",
    "Edge",
    "NoEdgeAvailable",
    "Placement",
    "Placer",
    "Reason",
    "WarmRegistry",
    "ring_order",
    "stable_hash",
]
