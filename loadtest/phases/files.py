"""Files: a big upload through the v2 flow, its speed and the serving process's memory.

A real ``flannel origin`` process (SQLite, the local file store in the run's folder) and a
real ``flannel edge`` in front of it, whose URL is the base of the file links (``--files-url``):
a ``files.getUploadURLExternal``, then the POST of ``megabytes`` MB to the upload URL (the
edge, which streams it to the origin), sent in 1 MiB chunks by this process; then the file is
downloaded back through ``url_private`` (the edge again).

``files.upload_mb_per_s`` / ``files.download_mb_per_s``: MB (10^6 bytes) per second, POST
start to answer, GET start to last byte. ``files.peak_rss_mib``: the origin process's peak
resident memory (``VmHWM``) after the upload and the download; ``files.baseline_rss_mib`` its
resident memory just before the upload, so ``files.rss_growth_mib`` is what the transfer cost
(flat: it does not grow with the file's size). ``files.edge_peak_rss_mib`` and
``files.edge_rss_growth_mib``: the same for the edge that passed the bytes through.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from origin.service import teams, users
from origin.service.auth import issue_token
from origin.store.shards import Store

CHUNK = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


async def _seed(url: str) -> str:
    store = await Store.open([url])
    try:
        team = await teams.create_workspace(store, "Files bench")
        user = await users.create_user(store, team["id"], "uploader", "Uploader", "up@example.com")
        return await issue_token(store, team["id"], user["id"])
    finally:
        await store.close()


async def _body(megabytes: int) -> AsyncIterator[bytes]:
    block = os.urandom(CHUNK)
    total = megabytes * 1_000_000
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        sent += len(piece)
        yield piece


async def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited while starting")
            try:
                if (await client.get(url + "/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _start(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(tmp: Path, megabytes: int, say: Callable[[str], None]) -> dict[str, Any]:
    folder = tmp / "files-phase"
    folder.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{folder}/files.db"
    token = await _seed(db)
    port, edge_port = _free_port(), _free_port()
    url, edge_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{edge_port}"
    cmd = [
        sys.executable, "-m", "flannel_cli.main", "origin", "--database-url", db,
        "--file-store", f"file://{folder}/blobs", "--file-max-mb", str(megabytes + 1),
        "--files-url", edge_url, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    edge_cmd = [
        sys.executable, "-m", "flannel_cli.main", "edge", "--origin-url", url,
        "--port", str(edge_port), "--log-level", "warning",
    ]  # fmt: skip
    proc = _start(cmd, folder / "origin.log")
    edge = _start(edge_cmd, folder / "edge.log")
    try:
        await _wait_healthy(url, proc)
        await _wait_healthy(edge_url, edge)
        auth = {"Authorization": f"Bearer {token}"}
        length = megabytes * 1_000_000
        async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(600.0)) as client:
            grant = (
                await client.post(
                    "/api/files.getUploadURLExternal",
                    headers=auth,
                    data={"filename": "big.bin", "length": length},
                )
            ).json()
            if not grant.get("ok"):
                raise RuntimeError(f"getUploadURLExternal: {grant}")
            baseline = _status_mib(proc.pid, "VmRSS")
            edge_baseline = _status_mib(edge.pid, "VmRSS")
            say(f"files: uploading {megabytes} MB to the origin ...")
            started = time.perf_counter()
            posted = await client.post(
                grant["upload_url"], content=_body(megabytes), headers={"content-length": str(length)}
            )
            upload_s = time.perf_counter() - started
            if posted.status_code != 200:
                raise RuntimeError(f"upload: HTTP {posted.status_code} {posted.text[:200]}")
            files = f'[{{"id": "{grant["file_id"]}", "title": "big"}}]'
            done = (
                await client.post("/api/files.completeUploadExternal", headers=auth, data={"files": files})
            ).json()
            if not done.get("ok"):
                raise RuntimeError(f"completeUploadExternal: {done}")
            started = time.perf_counter()
            received = 0
            async with client.stream("GET", done["files"][0]["url_private"], headers=auth) as answer:
                async for chunk in answer.aiter_raw():
                    received += len(chunk)
            download_s = time.perf_counter() - started
            if received != length:
                raise RuntimeError(f"download: {received} bytes of {length}")
        peak = _status_mib(proc.pid, "VmHWM")
        edge_peak = _status_mib(edge.pid, "VmHWM")
    finally:
        await asyncio.to_thread(_stop, edge)
        await asyncio.to_thread(_stop, proc)
    return {
        "files.upload_mb": megabytes,
        "files.upload_mb_per_s": round(megabytes / upload_s, 1),
        "files.download_mb_per_s": round(megabytes / download_s, 1),
        "files.baseline_rss_mib": baseline,
        "files.peak_rss_mib": peak,
        "files.rss_growth_mib": round(peak - baseline, 1),
        "files.edge_peak_rss_mib": edge_peak,
        "files.edge_rss_growth_mib": round(edge_peak - edge_baseline, 1),
    }
