"""The export Flannel writes, opened by the real slack-export-viewer (installed into a
throwaway virtualenv at test time, cached under .venv/ by its version, as the Node SDK test
installs its packages): every channel renders, with every message, its author and its time,
and the plain texts as written. Skipped when the package cannot be installed; failed instead
under FLANNEL_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from origin.service import teams
from origin.store.shards import Store
from origin.transfer.exporter import export_workspace
from origin.transfer.importer import import_export
from tests.conftest import REQUIRE, ROOT
from tests.origin.transfer.test_archive import SAMPLE

#: The viewer under test (one cached virtualenv per version).
VIEWER = "slack-export-viewer==3.5.0"
_PLAIN = re.compile(r"^[A-Za-z0-9 .,!?'()-]+$")


def unavailable(why: str) -> None:
    if REQUIRE:
        pytest.fail(f"{why} (FLANNEL_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(why)


def viewer() -> Path:
    """The viewer's executable, in a virtualenv made (once per version) under .venv/."""
    folder = ROOT / ".venv" / f"viewer-{VIEWER.replace('==', '-')}"
    exe = folder / "bin" / "slack-export-viewer"
    marker = folder / ".installed"
    if marker.exists() and exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True, timeout=120)
        done = subprocess.run(
            [str(folder / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", VIEWER],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        unavailable(f"could not make the viewer's virtualenv: {exc}")
    if done.returncode != 0 or not exe.exists():
        unavailable(f"pip install {VIEWER} failed: {done.stderr.strip()[-500:]}")
    marker.write_text(VIEWER + "\n")
    return exe


def render(exe: Path, archive: Path, out: Path, work: Path) -> None:
    env = {**os.environ, "TMPDIR": str(work), "TZ": "UTC"}  # it unpacks into the temp dir
    done = subprocess.run(
        [
            str(exe),
            "-z",
            str(archive),
            "--html-only",
            "-o",
            str(out),
            "--no-browser",
            "--no-external-references",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=work,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def day_files(archive: Path) -> dict[str, list[dict[str, object]]]:
    """folder -> its messages, oldest first, as the export holds them."""
    out: dict[str, list[dict[str, object]]] = {}
    with zipfile.ZipFile(archive) as zf:
        for name in sorted(zf.namelist()):
            folder, _, base = name.rpartition("/")
            if folder and base.endswith(".json"):
                out.setdefault(folder, []).extend(orjson.loads(zf.read(name)))
    return out


async def test_the_viewer_renders_flannels_export(store: Store, tmp_path: Path) -> None:
    exe = viewer()
    team = (await teams.create_workspace(store, "Viewed"))["id"]
    await import_export(store, SAMPLE, team)
    archive = tmp_path / "flannel-export.zip"
    counts = await export_workspace(store, team, archive)
    assert counts["messages"] == 158
    out = tmp_path / "html"
    render(exe, archive, out, tmp_path)
    with zipfile.ZipFile(archive) as zf:
        channels = orjson.loads(zf.read("channels.json"))
        users = {u["id"]: u["name"] for u in orjson.loads(zf.read("users.json"))}
    messages = day_files(archive)
    assert {c["name"] for c in channels} == {"enrique", "traveling-sailor"}
    checked = 0
    for channel in channels:
        page = (out / "channel" / channel["name"] / "index.html").read_text()
        mine = messages[channel["name"]]
        assert page.count('<div class="message">') == len(mine), channel["name"]
        for message in mine:
            when = datetime.fromtimestamp(float(str(message["ts"])), UTC).strftime("%Y-%m-%d %H:%M:%S")
            assert f'<div class="time">{when}</div>' in page
            author = users.get(str(message.get("user")))
            if author:
                assert f'<div class="username">{author}' in page
            text = str(message.get("text") or "")
            if _PLAIN.match(text) and "  " not in text:
                assert html.escape(text, quote=False) in page, text
                checked += 1
    index = (out / "index.html").read_text()
    assert all(c["name"] in index for c in channels)
    assert checked == 11  # the sample's plain texts (no markup): all there, verbatim
