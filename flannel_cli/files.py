"""The file-store flags (``flannel origin`` and ``flannel up``) and the settings they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from flannel_cli.options import add_flag
from origin.files.settings import FilesSettings


def file_store_url(text: str) -> str:
    """A ``--file-store`` value, checked: ``file:///abs/dir``, a directory, or ``s3://bucket``."""
    if text.startswith("s3://"):
        if not text[5:].split("/", 1)[0]:
            raise ValueError("s3:// needs a bucket")
        return text
    if text.startswith("file://"):
        return text
    if "://" in text:
        raise ValueError("expected file:///path or s3://bucket")
    return f"file://{Path(text).resolve()}"


def add_files(parser: argparse.ArgumentParser, default_store: str | None, shown: str | None = None) -> None:
    add_flag(
        parser,
        "--file-store",
        type=file_store_url,
        default=default_store,
        shown=shown,
        expected="file:///path or s3://bucket[/prefix]",
        help="where uploaded files are kept",
    )
    add_flag(parser, "--file-store-endpoint", help="an S3-compatible server's URL, for an s3:// store")
    add_flag(parser, "--files-url", help="base URL of upload and download links (the router's or an edge's)")
    add_flag(parser, "--file-max-mb", type=float, default=1024.0, help="largest file accepted, in MB")
    add_flag(parser, "--file-quota-gb", type=float, default=100.0, help="file storage per workspace, in GB")
    add_flag(parser, "--upload-url-ttl", type=float, default=600.0, help="seconds an upload URL stays valid")


def files_settings(args: argparse.Namespace) -> FilesSettings | None:
    """The file settings the flags say (None when the command has none)."""
    store = getattr(args, "file_store", None)
    if not store:
        return None
    settings = FilesSettings(store_url=store, s3_endpoint=getattr(args, "file_store_endpoint", None))
    settings.public_url = getattr(args, "files_url", None)
    settings.max_bytes = int(getattr(args, "file_max_mb", 1024.0) * (1 << 20))
    settings.quota_bytes = int(getattr(args, "file_quota_gb", 100.0) * (1 << 30))
    settings.upload_ttl_s = getattr(args, "upload_url_ttl", 600.0)
    return settings
