"""Files fixtures: the origin in-process with a file store in the test's folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from origin.files.settings import FilesSettings
from origin.store.shards import Store
from tests.origin.conftest import InProcess, in_process

#: Small limits so that the refusals are cheap to reach.
MAX_BYTES = 200_000
QUOTA = 1_000_000


def files_settings(root: Path, **extra: object) -> FilesSettings:
    settings = FilesSettings(store_url=f"file://{root}", max_bytes=MAX_BYTES, quota_bytes=QUOTA)
    for name, value in extra.items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
async def files_app(store: Store, tmp_path: Path) -> AsyncIterator[InProcess]:
    """The origin in-process (SQLite and MariaDB) with a local file store under tmp_path."""
    async for running in in_process(store, files=files_settings(tmp_path / "blobs")):
        yield running
