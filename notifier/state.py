"""Where the notifier keeps, in one atomic write, the offset it applied per workspace and what
it still owes (:class:`notifier.pending.Schedule`): a restart resumes exactly there."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson


class MemoryState:
    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None

    async def load(self) -> dict[str, Any] | None:
        return None if self.saved is None else orjson.loads(orjson.dumps(self.saved))

    async def save(self, state: dict[str, Any]) -> None:
        self.saved = orjson.loads(orjson.dumps(state))


class FileState:
    """A JSON file replaced atomically (write a temporary file, fsync, rename)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def load(self) -> dict[str, Any] | None:
        try:
            data = await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            return None
        loaded: dict[str, Any] = orjson.loads(data)
        return loaded

    async def save(self, state: dict[str, Any]) -> None:
        await asyncio.to_thread(self._write, orjson.dumps(state))

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
