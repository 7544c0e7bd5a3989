"""The method registry: one table of Web API methods, each with its rate-limit tier."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from origin.service.auth import Caller
from origin.store.shards import Store
from origin.transfer.jobs import Transfers
from wire.args import Args
from wire.ratelimit import tier_of

JSON = dict[str, Any]


@dataclass
class Context:
    store: Store
    caller: Caller
    token: str
    base_url: str
    transfers: Transfers | None = None  # the admin import/export jobs, when the app runs them
    files: Any = None  # the files service (origin.files.service.Files), when the app runs it


Handler = Callable[[Context, Args], Awaitable[JSON]]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    tier: int


METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``name``, at the rate-limit tier the wire contract gives it
    (:func:`wire.ratelimit.tier_of`: the edges enforce the same tiers, so they live there once)."""

    def register(handler: Handler) -> Handler:
        if name in METHODS:
            raise ValueError(f"method {name} registered twice")
        METHODS[name] = Method(name, handler, tier_of(name))
        return handler

    return register


def load_methods() -> dict[str, Method]:
    """Import the method modules (which register themselves) and return the table."""
    from origin.api.methods import (  # noqa: F401
        admin,
        auth,
        chat,
        conversations,
        files,
        notify,
        pins,
        reactions,
        readstate,
        rtm,
        search,
        users,
        workspace,
    )

    return METHODS
