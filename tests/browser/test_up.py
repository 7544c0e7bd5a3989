"""``flannel up`` ends in a page a newcomer can open: the one-time link it prints signs the demo
user in, and the client works there end to end with what only the embedded system runs (the
file store, the ephemeral bus): an image is uploaded by picking it and shown inline."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SHOTS
from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e
WAIT_MS = 20_000


def four_free_ports() -> int:
    """A base port with the next three free too (``flannel up`` takes four in a row)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base > 65000:
            continue
        try:
            for offset in range(1, 4):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no four free ports in a row")


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 40), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def test_the_link_flannel_up_prints_opens_a_working_client(
    start_server: type[ServerProcess], tmp_path: Path, browser: Any
) -> None:
    server = start_server(
        ["up", "--data-dir", str(tmp_path / "data"), "--demo-users", "40"], four_free_ports()
    )
    server.start(timeout=120)
    printed = server.log.read_text()
    link = re.search(r"(http://127\.0\.0\.1:\d+/#signin=\S+)", printed)
    assert link is not None, printed[-2000:]
    assert re.search(r"later: http://127\.0\.0\.1:\d+/ {2}with \S+@\S+ / \S+", printed)

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(link.group(1))
    page.locator("#messages article").first.wait_for(timeout=WAIT_MS)
    assert page.locator("#sidebar [data-badge]").count() > 0  # the seeded workspace has unreads

    image = tmp_path / "square.png"
    image.write_bytes(png())
    page.locator("#file").set_input_files(str(image))
    shown = page.locator("#messages article .file img").last
    shown.wait_for(timeout=WAIT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=shown.element_handle())
    assert page.locator("#messages article .file a", has_text="square.png").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "flannel-up.png"))
    page.context.close()
