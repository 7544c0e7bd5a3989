"""admin.imports.start's path: only a file inside the import directory, whatever the path
says (``..``, absolute, symlinks out, NUL bytes, names too long, symlink loops), and every
refusal is a Slack error, never a 500."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from origin.service import users
from origin.service.auth import issue_token
from origin.store.shards import Store
from tests.origin.conftest import InProcess, in_process
from tests.origin.transfer.test_archive import SAMPLE


@pytest.fixture
async def admin_app(store: Store, tmp_path: Path) -> AsyncIterator[tuple[InProcess, str, Path]]:
    imports = tmp_path / "imports"
    imports.mkdir()
    shutil.copy(SAMPLE, tmp_path / "outside.zip")
    (imports / "out.zip").symlink_to(tmp_path / "outside.zip")
    (imports / "outdir").symlink_to(tmp_path)
    (imports / "loop").symlink_to(imports / "loop2")
    (imports / "loop2").symlink_to(imports / "loop")
    async for app in in_process(store, import_dir=str(imports), export_dir=str(tmp_path / "exports")):
        boss = await users.create_user(store, app.team.id, "boss", "Boss", "b@example.com", is_admin=True)
        yield app, await issue_token(store, app.team.id, boss["id"]), tmp_path


async def test_paths_outside_the_import_directory_are_refused(admin_app: tuple[InProcess, str, Path]) -> None:
    app, token, root = admin_app
    for path in (
        "../outside.zip",
        str(root / "outside.zip"),
        "/etc/passwd",
        "out.zip",
        "outdir/outside.zip",
        "./../imports/../outside.zip",
        "out.zip\x00",
        "sample\x00.zip",
        ".",
        "",
        "//etc/passwd",
        "..%2foutside.zip",
    ):
        resp = await app.call("admin.imports.start", token, json={"path": path})
        assert resp.status_code == 200, (path, resp.text)
        body = resp.json()
        assert body["ok"] is False and body["error"] in (
            "path_not_allowed", "file_not_found", "invalid_arguments",
        ), (path, body)  # fmt: skip


async def test_odd_paths_are_slack_errors_not_500s(admin_app: tuple[InProcess, str, Path]) -> None:
    app, token, _ = admin_app
    for path in ("x" * 300, "a/" + "y" * 300 + "/b.zip", "loop", "loop/x.zip", "x" * 4000):
        resp = await app.call("admin.imports.start", token, json={"path": path})
        assert resp.status_code == 200, (path[:40], resp.status_code)
        assert resp.json()["ok"] is False, resp.json()


def test_no_symlink_was_followed_out(tmp_path: Path) -> None:
    assert not os.path.exists(tmp_path / "never")
