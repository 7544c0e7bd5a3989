"""The official Node SDKs (@slack/web-api, @slack/rtm-api) against a real stack, with the
router as their one base URL (``slackApiUrl``): the session of issue 15's "done when"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.compat.conftest import Compat, CountingProxy, node_sdk

SCRIPT = Path(__file__).with_name("session.mjs")
#: Checks that need the origin's issue-15 work (blocks, channel names, broadcasts).
NEEDS_ORIGIN = ("post_blocks_only", "update_with_blocks", "post_by_channel_name", "thread_reply_broadcast")


def test_a_node_sdk_session_through_the_router(compat: Compat, counting_proxy: type[CountingProxy]) -> None:
    folder = node_sdk()
    shutil.copy(SCRIPT, folder / SCRIPT.name)
    proxy = counting_proxy(compat.router.url)
    try:
        done = run_node(folder, proxy, compat)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Node session hung; it got as far as:\n{exc.stderr}")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    failed = {name: r for name, r in results.items() if not r["ok"]}
    assert not failed, json.dumps(failed, indent=1)[:6000]
    assert proxy.counts["/api/nope.nope"] == 1  # a platform error, asked once, never retried
    failure = results["rtm_connects_sends_receives_and_reports_a_failed_send"]["detail"]["failure"]
    assert failure["code"] == "channel_not_found"


def run_node(folder: Path, proxy: CountingProxy, compat: Compat) -> subprocess.CompletedProcess[str]:
    team = compat.team
    return subprocess.run(
        [
            "node",
            str(folder / SCRIPT.name),
            proxy.url + "/api/",
            team.alice.token,
            team.bob.token,
            team.general,
            team.bob.id,
            team.alice.id,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize("name", NEEDS_ORIGIN)
def test_which_checks_need_the_origin(name: str) -> None:
    """The origin-dependent checks are in the script (kept in step with this list)."""
    assert f'"{name}"' in SCRIPT.read_text()
