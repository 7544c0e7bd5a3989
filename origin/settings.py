"""The origin's configuration (filled from flags with environment fallbacks by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from origin.api.ratelimit import DEFAULT_TIERS
from origin.files.settings import FilesSettings

DEFAULT_DATABASE_URL = "sqlite:///.flannel/flannel.db"


@dataclass
class OriginSettings:
    database_urls: list[str] = field(default_factory=lambda: [DEFAULT_DATABASE_URL])
    redis_url: str | None = None
    redis_prefix: str = "flannel:"
    secret: str = "dev-secret-change-me"
    host: str = "127.0.0.1"
    port: int = 8000
    rate_limits: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    pool_size: int = 10
    log_max_events: int = 100_000
    log_max_age_s: float = 24 * 3600.0
    relay_fault: str | None = None  # test fault injection: "before_append", "after_append", "before_mark"
    # admin.imports.start reads exports only from inside this directory (None: imports refused);
    # admin.exports.start writes its zips into export_dir (None: exports refused)
    import_dir: str | None = None
    export_dir: str | None = None
    # files (origin.files): None runs the origin without a file store (uploads refused)
    files: FilesSettings | None = None
    # search.messages / search.files: "tantivy" (an index fed from the change log, in this
    # process) or "database" (MariaDB FULLTEXT / SQLite FTS5); search_dir "" is a fresh
    # temporary index, rebuilt from the database at start
    search_engine: str = "tantivy"
    search_dir: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
