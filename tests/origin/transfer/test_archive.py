"""Safe archive reading: limits, escaping names, corrupt zips, malformed JSON."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from origin.transfer.archive import Archive, ArchiveError, ItemError, Limits, safe_name

# A copy of the real Slack export in ../shared/data, kept with the tests so a clone is complete.
SAMPLE = Path(__file__).resolve().parent / "data" / "slack-export-sample.zip"


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("users.json", "users.json"),
        ("general/2016-01-01.json", "general/2016-01-01.json"),
        ("./a/./b.json", "a/b.json"),
        ("../evil.json", None),
        ("a/../../evil.json", None),
        ("a/../b.json", None),
        ("/etc/passwd", None),
        ("C:/windows.json", None),
        ("..\\evil.json", None),
    ],
)
def test_safe_name(name: str, expected: str | None) -> None:
    assert safe_name(name) == expected


def test_sample_reads() -> None:
    with Archive(SAMPLE) as archive:
        assert "users.json" in archive
        assert len(archive.read_json("users.json")) == 4


def test_directory_reads_like_zip(tmp_path: Path) -> None:
    (tmp_path / "general").mkdir()
    (tmp_path / "users.json").write_text("[]")
    (tmp_path / "general" / "2016-01-01.json").write_text("[]")
    with Archive(tmp_path) as archive:
        assert archive.names == ["general/2016-01-01.json", "users.json"]


def test_directory_symlink_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("[]")
    root = tmp_path / "export"
    root.mkdir()
    (root / "users.json").symlink_to(outside)
    with pytest.raises(ArchiveError) as err:
        Archive(root)
    assert err.value.code == "unsafe_path"


def test_single_root_folder_is_stripped(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {"export/users.json": b"[]", "export/c/2016-01-01.json": b"[]"})
    with Archive(path) as archive:
        assert "users.json" in archive


def test_escaping_entry_refuses_the_archive(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {"users.json": b"[]", "../../evil.json": b"[]"})
    with pytest.raises(ArchiveError) as err:
        Archive(path)
    assert err.value.code == "unsafe_path"
    assert not (tmp_path.parent / "evil.json").exists()


def test_corrupt_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"PK\x03\x04 this is not a zip at all")
    with pytest.raises(ArchiveError) as err:
        Archive(path)
    assert err.value.code == "corrupt_zip"


def test_truncated_zip(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError) as err:
        Archive(path)
    assert err.value.code == "corrupt_zip"


def test_too_many_entries(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {f"c/{i}.json": b"[]" for i in range(20)})
    with pytest.raises(ArchiveError) as err:
        Archive(path, Limits(max_entries=10))
    assert err.value.code == "too_many_entries"


def test_zip_bomb_total_size(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {f"c/{i}.json": b" " * 100_000 for i in range(5)})
    assert path.stat().st_size < 10_000  # compresses very well
    with pytest.raises(ArchiveError) as err:
        Archive(path, Limits(max_total_bytes=300_000))
    assert err.value.code == "too_large"


def test_total_limit_counts_what_entries_hold_once(tmp_path: Path) -> None:
    """The import reads each day file twice (threads first) and the last one a third time:
    that must not count against the total limit, while bytes beyond a lying header do."""
    entries = {"users.json": b"[]", **{f"c/{i}.json": b" " * 100_000 for i in range(3)}}
    path = make_zip(tmp_path / "e.zip", entries)
    with Archive(path, Limits(max_total_bytes=300_002)) as archive:
        for _ in range(3):
            for i in range(3):
                assert len(archive.read(f"c/{i}.json")) == 100_000
                assert sum(map(len, archive.stream(f"c/{i}.json", 30_000))) == 100_000
    bomb = make_zip(
        tmp_path / "b.zip", {"users.json": b"[]", "c/a.json": b" " * 200_000, "c/b.json": b" " * 200_000}
    )
    with Archive(bomb, Limits(max_total_bytes=400_002)) as archive:
        archive.read("c/a.json")
        object.__setattr__(archive, "limits", Limits(max_total_bytes=300_000))  # as if headers lied
        with pytest.raises(ArchiveError) as err:
            archive.read("c/b.json")
        assert err.value.code == "too_large"


def test_zip_bomb_entry_size(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {"users.json": b" " * 1_000_000})
    with pytest.raises(ArchiveError) as err:
        Archive(path, Limits(max_entry_bytes=100_000))
    assert err.value.code == "entry_too_large"


def test_lying_header_is_caught_on_read(tmp_path: Path) -> None:
    """A header that claims a small size does not let more bytes through."""
    path = make_zip(tmp_path / "e.zip", {"users.json": b" " * 50_000})
    archive = Archive(path, Limits(max_entry_bytes=100_000))
    object.__setattr__(archive, "limits", Limits(max_entry_bytes=10_000))  # as if the header lied
    with pytest.raises(ArchiveError) as err:
        archive.read("users.json")
    assert err.value.code == "entry_too_large"


def test_malformed_json_is_an_item_error(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "e.zip", {"users.json": b"[]", "c/2016-01-01.json": b"[{oops"})
    with Archive(path) as archive:
        assert archive.read_json("users.json") == []
        with pytest.raises(ItemError):
            archive.read_json("c/2016-01-01.json")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as err:
        Archive(tmp_path / "nope.zip")
    assert err.value.code == "not_found"
