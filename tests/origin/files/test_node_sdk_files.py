"""The Node SDK's filesUploadV2 and files methods against the router (files_session.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.compat.conftest import node_sdk
from tests.conftest import ServerProcess
from tests.origin.files.stack import FilesStack, start_stack

SCRIPT = Path(__file__).with_name("files_session.mjs")


@pytest.fixture
async def stack(
    start_server: type[ServerProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[FilesStack]:
    running = await start_stack(start_server, tmp_path, redis_url, redis_prefix)
    try:
        yield running
    finally:
        await running.store.close()


def test_node_sdk_files_upload_v2(stack: FilesStack) -> None:
    folder = node_sdk()
    shutil.copy(SCRIPT, folder / SCRIPT.name)
    team = stack.team
    done = subprocess.run(
        [
            "node",
            str(folder / SCRIPT.name),
            stack.api,
            team.alice.token,
            team.bob.token,
            team.carol.token,
            team.general,
            team.private,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == {
        "upload_one_file_to_a_channel",
        "upload_several_files_to_a_thread",
        "info_list_delete",
        "private_file_is_404_to_a_non_member",
    }
    failed = {name: r for name, r in results.items() if not r["ok"]}
    assert not failed, json.dumps(failed, indent=1)[:6000]
