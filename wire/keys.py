"""The Redis key layout shared by edges (who write their registration) and routers (who read it).

``P`` is the deployment's key prefix (``flannel:`` by default).

``P edge:{edge_id}``
    String, an orjson object: ``id``, ``region``, ``ws_url`` (public WebSocket URL, ``.../rtm``),
    ``http_url`` (public HTTP base, without ``/api/``), ``connections`` (live sessions),
    ``capacity`` (most sessions it takes), ``draining``, ``started`` (process start, Unix
    seconds: a restarted edge is cold), ``updated`` (this heartbeat, Unix seconds),
    ``heartbeat_s``. ``PX`` = :data:`TTL_HEARTBEATS` heartbeats.
``P edges``
    Sorted set: edge id -> Unix ms of its last heartbeat. An index so that readers need no
    ``SCAN``; members whose record expired are skipped by readers and pruned by writers.
``P warm:{team_id}``
    Sorted set written by routers: edge id -> Unix ms of the last connection of the team a
    router sent there, refreshed with a TTL on every write.
``P nonce:{edge_id}:{nonce}``
    A redeemed ticket nonce, until the ticket expires (``SET NX EXAT``).
``P nonce_epoch:{edge_id}``
    String, Unix seconds: since when the nonces above are complete. Set (``NX``, no TTL) when
    the edge starts, and reset to "now" when it is found missing (Redis lost its data): a
    ticket issued before it is refused, since its nonce may have been forgotten.
``P snap:{region}:...``
    The regional copies of workspace snapshots that edges of ``region`` stored (aiocache keys).
"""

from __future__ import annotations

DEFAULT_PREFIX = "flannel:"
#: An edge record lives this many heartbeats: a crashed edge vanishes by itself.
TTL_HEARTBEATS = 3


def edge_key(prefix: str, edge_id: str) -> str:
    return f"{prefix}edge:{edge_id}"


def index_key(prefix: str) -> str:
    return f"{prefix}edges"


def warm_key(prefix: str, team_id: str) -> str:
    return f"{prefix}warm:{team_id}"


def nonce_prefix(prefix: str, edge_id: str) -> str:
    return f"{prefix}nonce:{edge_id}:"


def nonce_epoch_key(prefix: str, edge_id: str) -> str:
    return f"{prefix}nonce_epoch:{edge_id}"


def snapshot_namespace(prefix: str, region: str) -> str:
    return f"{prefix}snap:{region}:"
