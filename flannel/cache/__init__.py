"""The edge's workspace cache: pure workspaces built from snapshots and moved by the change log
(:mod:`.workspace`, :mod:`.queries`), and the asyncio manager that loads, follows and evicts them
(:mod:`.manager`)."""

from .manager import WorkspaceCache
from .queries import CacheError
from .workspace import SnapshotError, Workspace, WorkspaceBuilder

__all__ = ["CacheError", "SnapshotError", "Workspace", "WorkspaceBuilder", "WorkspaceCache"]
