"""Reading a Slack export safely: a zip or a directory, every name checked and every read bounded.

An export comes from outside, so it is treated as hostile: a name that escapes its folder
(``../``, an absolute path, a drive letter, a symlink out of a directory) refuses the whole
archive, and the limits on the entry count, the total and the per-entry uncompressed size are
enforced on the bytes actually read, not on the sizes the zip's headers claim (a zip bomb can
lie about them). Nothing is ever extracted to disk.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_entries: int = 500_000
    max_total_bytes: int = 8 * 1024 * MiB
    max_entry_bytes: int = 256 * MiB


class ArchiveError(Exception):
    """The archive as a whole cannot be read: nothing of it is imported."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ItemError(Exception):
    """One entry cannot be read (malformed JSON): reported, the rest goes on."""


def safe_name(name: str) -> str | None:
    """The entry's normalised relative POSIX path, or None when it would escape its folder."""
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = name.split("/")
    if any(part == ".." for part in parts):
        return None
    normal = posixpath.normpath(name)
    if normal.startswith("../") or normal == ".." or normal.startswith("/"):
        return None
    return "" if normal == "." else normal


class Archive:
    """The files of an export by relative name (directories left out), read within limits."""

    def __init__(self, path: Path, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or Limits()
        self._zip: zipfile.ZipFile | None = None
        self._entries: dict[str, Any] = {}
        self._read_total = 0  # bytes really read, each entry counted once (its longest read)
        self._read_sizes: dict[str, int] = {}
        if path.is_dir():
            self._open_dir(path)
        elif path.is_file():
            self._open_zip(path)
        else:
            raise ArchiveError("not_found", f"{path} is neither a zip nor a directory")
        self._strip_single_root()

    def _open_zip(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ArchiveError("corrupt_zip", f"{path.name} is not a readable zip: {exc}") from None
        self._check_count(len(infos))
        total = 0
        for info in infos:
            name = safe_name(info.filename)
            if name is None:
                raise ArchiveError("unsafe_path", f"entry {info.filename!r} escapes the archive")
            if info.is_dir() or not name:
                continue
            if info.flag_bits & 0x1:
                raise ArchiveError("encrypted", f"entry {name!r} is encrypted")
            self._check_entry(name, info.file_size)
            total += info.file_size
            self._check_total(total)
            self._entries[name] = info

    def _open_dir(self, root: Path) -> None:
        real_root = root.resolve()
        total = 0
        for file in sorted(root.rglob("*")):
            if not file.is_file():
                continue
            real = file.resolve()
            if not real.is_relative_to(real_root):
                raise ArchiveError("unsafe_path", f"{file} points outside the export folder")
            name = file.relative_to(root).as_posix()
            self._check_count(len(self._entries) + 1)
            size = real.stat().st_size
            self._check_entry(name, size)
            total += size
            self._check_total(total)
            self._entries[name] = real

    def _strip_single_root(self) -> None:
        """An export zipped with its folder (``export/users.json``) reads as if flat."""
        if any("/" not in n for n in self._entries):
            return
        roots = {n.split("/", 1)[0] for n in self._entries}
        if len(roots) == 1:
            root = roots.pop() + "/"
            self._entries = {n[len(root) :]: v for n, v in self._entries.items()}

    def _check_count(self, n: int) -> None:
        if n > self.limits.max_entries:
            raise ArchiveError("too_many_entries", f"more than {self.limits.max_entries} entries")

    def _check_entry(self, name: str, size: int) -> None:
        if size > self.limits.max_entry_bytes:
            raise ArchiveError(
                "entry_too_large", f"{name} is over {self.limits.max_entry_bytes} bytes uncompressed"
            )

    def _count(self, name: str, size: int) -> None:
        """``size`` bytes of ``name`` read: the total limit holds for what the entries really
        hold (whatever their headers said), an entry read again (the import reads each day
        file twice: its threads first) counting once."""
        seen = self._read_sizes.get(name, 0)
        if size > seen:
            self._read_sizes[name] = size
            self._read_total += size - seen
            self._check_total(self._read_total)

    def _check_total(self, total: int) -> None:
        if total > self.limits.max_total_bytes:
            raise ArchiveError("too_large", f"over {self.limits.max_total_bytes} bytes uncompressed")

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def read(self, name: str) -> bytes:
        """The entry's bytes; reading past a limit (whatever the header said) is an ArchiveError."""
        entry = self._entries[name]
        cap = self.limits.max_entry_bytes
        if self._zip is not None:
            try:
                with self._zip.open(entry) as stream:
                    data = stream.read(cap + 1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ArchiveError("corrupt_zip", f"entry {name} cannot be read: {exc}") from None
        else:
            with open(entry, "rb") as f:
                data = f.read(cap + 1)
        self._check_entry(name, len(data))
        self._count(name, len(data))
        return data

    def stream(self, name: str, chunk: int) -> Iterator[bytes]:
        """The entry's bytes, ``chunk`` at a time (a file's bytes: never whole in memory). An
        entry that cannot be read, or is longer than the per-entry limit (whatever its header
        said), is an ItemError; the archive's total limit is enforced as ``read`` does."""
        entry = self._entries[name]
        cap, size = self.limits.max_entry_bytes, 0
        try:
            with self._zip.open(entry) if self._zip is not None else open(entry, "rb") as stream:
                while data := stream.read(chunk):
                    size += len(data)
                    if size > cap:
                        raise ItemError(f"{name}: over {cap} bytes uncompressed")
                    self._count(name, size)
                    yield data
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            raise ItemError(f"{name}: cannot be read ({exc})") from None

    def read_json(self, name: str) -> Any:
        """The entry as JSON; malformed JSON is an ItemError (one entry, reported)."""
        try:
            return orjson.loads(self.read(name))
        except orjson.JSONDecodeError as exc:
            raise ItemError(f"{name}: malformed JSON ({exc})") from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
