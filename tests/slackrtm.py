"""Shutting slack_sdk's RTMClient (v2) down for good.

``RTMClient.close()`` closes the session but leaves its background threads running (the
session runner, the connection monitor and the message processor) with auto-reconnect still
on, so once the test's edge is gone the monitor keeps calling ``rtm.connect`` against a dead
port for the rest of the pytest process, logging a retry every few seconds into later tests'
captured output.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.socket_mode.interval_runner import IntervalRunner


def shut_down(rtm: Any, wait_s: float = 10.0) -> None:
    """Close ``rtm`` and stop every thread it started (waiting up to ``wait_s`` for each)."""
    rtm.auto_reconnect_enabled = False  # the monitor checks it before reconnecting
    runners = [r for r in vars(rtm).values() if isinstance(r, IntervalRunner) and r.is_alive()]
    for runner in runners:
        runner.event.set()  # each loop ends at its next turn
    if rtm.current_session_state is not None:
        rtm.current_session_state.terminated = True  # ends the session runner's receive loop
    try:
        rtm.close()
    finally:
        for runner in runners:
            runner.thread.join(wait_s)
        rtm.message_workers.shutdown(wait=False)
