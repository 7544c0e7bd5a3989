"""The notifier's tests on the ``stack`` start their own ``flannel notifier`` beside the stack's
origin: that origin must not run a notifier child too (two notifiers on one change log would
deliver twice), so for them ``FLANNEL_NO_NOTIFIER`` is set (the origin's ``--no-notifier``).
Tests of the child itself, and of ``flannel up``'s in-process notifier, are left alone."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def stack_origin_runs_no_notifier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "stack" in request.fixturenames:
        monkeypatch.setenv("FLANNEL_NO_NOTIFIER", "1")
