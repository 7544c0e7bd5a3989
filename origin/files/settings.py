"""How files are kept and limited (filled from flags by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

GB = 1 << 30


@dataclass
class FilesSettings:
    #: ``file:///abs/dir`` (local filesystem, the embedded default) or ``s3://bucket[/prefix]``.
    store_url: str = "file://.flannel/files"
    #: An S3-compatible server's URL (None: AWS's own endpoint).
    s3_endpoint: str | None = None
    #: The base of upload URLs and ``url_private`` (the router's or an edge's public URL, which
    #: stream them to the origin); None: the origin's own URL.
    public_url: str | None = None
    max_bytes: int = GB
    quota_bytes: int = 100 * GB  # per workspace
    upload_ttl_s: float = 600.0  # an upload URL's life; also how long a stored upload waits for completion
    receive_window_s: float = 6 * 3600.0  # how long one upload may take to arrive
