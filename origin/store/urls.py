"""Database URLs: ``sqlite:///path.db`` or ``mysql://user:pw@host:port/db``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from origin.store.db import Database


class DatabaseUrlError(ValueError):
    pass


def mysql_params(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    db = parts.path.lstrip("/")
    if not db:
        raise DatabaseUrlError(f"{_redact(url)}: a database name is required")
    params: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": db,
    }
    query = parse_qs(parts.query)
    if "unix_socket" in query:
        params["unix_socket"] = query["unix_socket"][0]
    return params


def sqlite_path(url: str) -> str:
    if url in ("sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise DatabaseUrlError(f"{url}: expected sqlite:///path.db")
    return url[len("sqlite:///") :]


def split_urls(value: str | list[str] | None) -> list[str]:
    """Several shards may be given, comma-separated or repeated."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [u.strip() for item in items for u in item.split(",") if u.strip()]


async def open_database(url: str, pool_size: int = 10) -> Database:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from origin.store.sqlite import SqliteDatabase

        return await SqliteDatabase(url, sqlite_path(url)).open()
    if scheme in ("mysql", "mariadb", "mysql+aiomysql"):
        from origin.store.mysql import MysqlDatabase

        return await MysqlDatabase(url, mysql_params(url), pool_size=pool_size).open()
    raise DatabaseUrlError(f"{_redact(url)}: unsupported scheme {scheme!r} (sqlite or mysql)")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
