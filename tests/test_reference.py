"""docs/configuration.md is the CLI's own reference: regenerate it when a flag changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flannel_cli.reference import render
from tests.conftest import ROOT


def test_configuration_reference_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLANNEL_"):
            monkeypatch.delenv(name)
    doc = (Path(ROOT) / "docs" / "configuration.md").read_text()
    assert doc == render(), "run: python -m flannel_cli.reference > docs/configuration.md"
