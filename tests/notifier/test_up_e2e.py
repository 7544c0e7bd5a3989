"""``flannel up`` runs the notifier in its one process (embedded: SQLite, the in-process log
and bus): a DM reaches the recipient's real WebSocket as a ``desktop_notification``; with
``--no-notifier`` nothing does."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_ws

from tests.conftest import ROOT
from tests.test_cli import free_block


def next_of(ws: ClientConnection, kind: str, wait_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame: dict[str, Any] = orjson.loads(ws.recv(timeout=left))
        except TimeoutError:
            return None
        if frame.get("type") == kind:
            return frame
    return None


def frames_until(ws: ClientConnection, last: Any, wait_s: float) -> list[str]:
    """The types of every frame received until one matching ``last`` (included)."""
    kinds: list[str] = []
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        frame: dict[str, Any] = orjson.loads(ws.recv(timeout=left))
        kinds.append(str(frame.get("type")))
        if last(frame):
            return kinds
    raise AssertionError(f"no final frame within {wait_s}s: {kinds}")


@pytest.mark.parametrize("notifier", [True, False])
def test_flannel_up_delivers_desktop_notifications(tmp_path: Path, notifier: bool) -> None:
    port = free_block(4)
    argv = ["up", "--port", str(port), "--data-dir", str(tmp_path), "--demo-users", "20"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "flannel_cli.main", *argv, *([] if notifier else ["--no-notifier"])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        text = ""
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in text and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line and proc.poll() is not None:
                break
            text += line
        assert "Press Ctrl-C" in text, text
        demo = orjson.loads((tmp_path / "demo.json").read_bytes())
        me, other = demo["tokens"][0], demo["tokens"][1]
        edge = f"http://127.0.0.1:{port + 1}/api/"
        origin = f"http://127.0.0.1:{port}/api/"
        for _ in range(200):  # the banner is printed as the servers start listening
            try:
                httpx.get(f"http://127.0.0.1:{port + 1}/healthz").raise_for_status()
                httpx.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        connect = httpx.post(edge + "rtm.connect", headers={"Authorization": f"Bearer {me['token']}"}).json()
        with connect_ws(connect["url"], open_timeout=10) as ws:
            assert orjson.loads(ws.recv(timeout=10))["type"] == "hello"
            posted = httpx.post(
                origin + "chat.postMessage",
                json={"channel": me["user_id"], "text": "are you there?"},  # a DM, by user id
                headers={"Authorization": f"Bearer {other['token']}"},
            ).json()
            assert posted["ok"], posted
            if notifier:
                frame = next_of(ws, "desktop_notification", 15)
                assert frame is not None and frame["content"] == "are you there?"
                assert frame["channel"] == posted["channel"] and frame["title"] == demo["team"]["name"]
            else:
                # every frame up to a second DM's message: a notification for the first would
                # have come before it (one log, one bus, in order); none does
                second = httpx.post(
                    origin + "chat.postMessage",
                    json={"channel": me["user_id"], "text": "ping"},
                    headers={"Authorization": f"Bearer {other['token']}"},
                ).json()
                assert second["ok"]
                kinds = frames_until(ws, lambda f: f.get("type") == "message" and f.get("text") == "ping", 15)
                assert "message" in kinds and "desktop_notification" not in kinds, kinds
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
