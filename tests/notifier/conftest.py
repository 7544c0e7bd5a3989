"""The notifier's tests on the ``stack`` start their own ``flannel notifier`` beside the stack's
origin: that origin must not run a notifier child too (two notifiers on one change log would
deliver twice), so for them ``FLANNEL_NO_NOTIFIER`` is set (the origin's ``--no-notifier``).
Tests of the child itself, and of ``flannel up``'s in-process notifier, are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flannel.conftest import Stack


@pytest.fixture(autouse=True)
def stack_origin_runs_no_notifier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "stack" in request.fixturenames:
        monkeypatch.setenv("FLANNEL_NO_NOTIFIER", "1")


def notifier_args(stack: Stack, state_dir: Path, smtp_port: int, *extra: str) -> list[str]:
    """``flannel notifier``'s arguments for a notifier on ``stack``'s Redis and database,
    emailing through the SMTP server on ``smtp_port``."""
    return [
        "notifier",
        "--log-level",
        "warning",
        "--redis-url",
        stack.redis_url,
        "--redis-prefix",
        stack.prefix,
        "--database-url",
        stack.db_urls[0],
        "--state-dir",
        str(state_dir),
        "--smtp-url",
        f"smtp://127.0.0.1:{smtp_port}",
        *extra,
    ]
