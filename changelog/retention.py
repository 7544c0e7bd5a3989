"""Retention bounds and the periodic trim, shared by both change-log backends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class Retained:
    """``max_len`` bounds the events kept per workspace and ``max_age_s`` their age (``None``
    disables either bound). Once something was appended, :meth:`trim` also runs every
    ``trim_every_s`` seconds in a task of its own (stopped by :meth:`_stop_trimmer`); errors of
    the kinds in ``TRIM_SURVIVES`` only skip one round."""

    TRIM_SURVIVES: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        max_len: int | None,
        max_age_s: float | None,
        clock: Callable[[], float] = time.time,
        trim_every_s: float | None = 60.0,
    ) -> None:
        self.max_len = max_len
        self.max_age_s = max_age_s
        self._clock = clock
        self._trim_every_s = trim_every_s
        self._trimmer: asyncio.Task[None] | None = None

    async def trim(self) -> None:
        raise NotImplementedError

    def _start_trimmer(self) -> None:
        if self._trimmer is None and self._trim_every_s is not None and self.max_age_s is not None:
            self._trimmer = asyncio.get_running_loop().create_task(self._trim_forever())

    async def _trim_forever(self) -> None:
        assert self._trim_every_s is not None
        while True:
            await asyncio.sleep(self._trim_every_s)
            with contextlib.suppress(*self.TRIM_SURVIVES):
                await self.trim()

    async def _stop_trimmer(self) -> None:
        if self._trimmer is not None:
            self._trimmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._trimmer
            self._trimmer = None
