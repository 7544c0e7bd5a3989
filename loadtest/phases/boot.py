"""Boot: a thin client's hello through a warm edge against ``rtm.start``, bytes and time.

Thin bytes are everything a thin client downloads before it is usable: the ``rtm.connect``
answer plus the hello frame. Time is connect-to-usable for both: new connections, the
request, the payload parsed (thin: rtm.connect, WebSocket upgrade, hello). The same typical
(non-admin) user boots both ways; medians of several boots each, the thin ones after one
boot that warmed the edge (reported as ``thin_cold_ms``).
"""

from __future__ import annotations

from typing import Any

from loadtest.clients import Workers
from loadtest.phases import Context
from loadtest.stats import median, ratio
from loadtest.workspace import Seeded


async def probe(ctx: Context, ws: Seeded) -> dict[str, Any]:
    plan = ctx.plan
    workers = Workers(
        "boot_probe",
        [
            {
                "origin_url": ctx.stack.origin_url,
                "edge_url": ctx.stack.edge_urls[0],
                "token": ws.tokens[1],
                "fat_reps": plan.fat_reps,
                "thin_reps": plan.thin_reps,
            }
        ],
        ctx.client_cpus,
    )
    try:
        await workers.recv("ready")
        workers.send("go")
        result: dict[str, Any] = (await workers.recv("done"))[0]
        return result
    finally:
        workers.close()


async def run(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"boot.large_users": ctx.large.users}
    for ws, label in ((ctx.small, "1500"), (ctx.large, "32000")):
        ctx.say(f"boot: {ws.users} users, {ctx.plan.thin_reps} thin and {ctx.plan.fat_reps} fat boots ...")
        got = await probe(ctx, ws)
        thin_ms, fat_ms = median(got["thin_ms"]), median(got["fat_ms"])
        out |= {
            f"boot.thin_bytes_{label}": got["thin_bytes"],
            f"boot.fat_bytes_{label}": got["fat_bytes"],
            f"boot.bytes_ratio_{label}": ratio(got["fat_bytes"], got["thin_bytes"]),
            f"boot.thin_ms_{label}": round(thin_ms, 2),
            f"boot.fat_ms_{label}": round(fat_ms, 1),
            f"boot.thin_cold_ms_{label}": round(got["thin_cold_ms"], 1),
            f"boot.time_ratio_{label}": ratio(fat_ms, thin_ms),
        }
    return out
