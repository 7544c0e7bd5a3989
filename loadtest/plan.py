"""How big each phase is: the full run, and ``--quick`` (minutes on two cores, for CI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    small_users: int = 1500
    large_users: int = 32000
    small_channels: int = 50
    large_channels: int = 200
    fat_reps: int = 5
    thin_reps: int = 20
    query_seconds: float = 10.0
    query_warmup: float = 2.0
    query_concurrency: int = 32
    query_batch: int = 10
    query_rounds: int = 3  # interleaved rounds; the best of each target counts (noisy hosts)
    idle_connections: int = 2000
    fanout_connections: int = 3000
    fanout_paced_messages: int = 50
    fanout_paced_rate: float = 5.0
    fanout_burst_messages: int = 100
    fanout_posters: int = 8
    fanout_fast_rate: float = 20.0  # the second paced run: 20 messages/s to every member
    fanout_fast_messages: int = 100
    fanout_large_connections: int = 10000  # the third: more members at a lower rate
    fanout_large_rate: float = 1.5  # 15,000 deliveries/s at 10,000 members
    fanout_large_messages: int = 15
    storm_users: int = 2000
    storm_clients: int = 1000
    freshness_changes: int = 100
    freshness_rate: float = 10.0
    changelog_events: int = 20000
    routing_workspaces: int = 1000
    routing_edges: int = 10
    search_messages: int = 1_000_000
    search_queries: int = 200
    transfer_messages: int = 1_000_000  # the export imported then exported (issue 21)
    phase_limit_s: float = 1800.0  # a phase running longer is stopped and reported as an error


FULL = Plan("full")
QUICK = Plan(
    "quick",
    large_users=4000,
    large_channels=100,
    fat_reps=3,
    thin_reps=10,
    query_seconds=2.0,
    query_warmup=0.5,
    query_concurrency=16,
    query_rounds=1,
    idle_connections=200,
    fanout_connections=300,
    fanout_paced_messages=10,
    fanout_burst_messages=20,
    fanout_fast_messages=40,
    fanout_large_connections=600,
    fanout_large_messages=6,
    storm_users=300,
    storm_clients=100,
    freshness_changes=20,
    changelog_events=2000,
    routing_workspaces=200,
    search_messages=5000,
    search_queries=20,
    transfer_messages=100_000,
    phase_limit_s=300.0,
)
