"""The bulk INSERT path the import's batches take on MariaDB (``origin.store.mysql``): the
values stored are exactly the ones given, whatever they hold, and statements stay bounded."""

from __future__ import annotations

from origin.store.mysql import insert_statements
from origin.store.shards import Store

TRICKY = [
    "plain",
    "it's",
    'say "hi"',
    "back\\slash\\",
    "\\'",
    "nul\0byte",
    "lines\nand\r\nreturns",
    "ctrl-z \x1a",
    "percent %s %% and ? marks",
    "emoji 🎉 and ünïcode",
    "",
    "'); DROP TABLE bulk_values; --",
]


def test_statements_are_split_and_only_plain_inserts_are_taken() -> None:
    rows = [(i, "x" * 50, None) for i in range(100)]
    statements = insert_statements("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", rows, limit=1000)
    assert statements is not None and len(statements) > 5
    assert all(len(s) <= 1000 for s in statements)
    assert sum(s.count("),(") + 1 for s in statements) == 100
    assert statements[0].startswith("INSERT INTO t (a, b, c) VALUES (0,'") and "NULL" in statements[0]
    # not the shape, or a value the driver should escape: None, so the driver's path runs
    assert insert_statements("UPDATE t SET a = ?", [(1,)]) is None
    assert insert_statements("INSERT INTO t (a) SELECT ?", [(1,)]) is None
    assert insert_statements("INSERT INTO t (a) VALUES (?)", [(1.5,)]) is None
    assert insert_statements("INSERT INTO t (a) VALUES (?)", [(b"raw",)]) is None
    assert insert_statements("INSERT INTO t (a, b) VALUES (?, ?)", [(1,)]) is None
    assert insert_statements("INSERT IGNORE INTO t (a) VALUES (?)", [(True,)]) == [
        "INSERT IGNORE INTO t (a) VALUES (1)"
    ]


async def test_values_round_trip_exactly(store: Store) -> None:
    db = store.shards[0]
    async with db.transaction() as conn:
        await conn.execute("DROP TABLE IF EXISTS bulk_values")
        await conn.execute(
            "CREATE TABLE bulk_values (id BIGINT NOT NULL PRIMARY KEY, s TEXT, n BIGINT, f REAL)"
        )
    try:
        rows: list[tuple[int, str | None, int | None, float | None]] = [
            (i, s, None if i % 2 else -(2**62) + i, None) for i, s in enumerate(TRICKY * 300)
        ]
        rows.append((len(rows), None, 7, 1.25))  # a float: the driver's own path, same result
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO bulk_values (id, s, n, f) VALUES (?, ?, ?, ?)", rows[:-1])
            await conn.executemany("INSERT INTO bulk_values (id, s, n, f) VALUES (?, ?, ?, ?)", rows[-1:])
        async with db.read() as conn:
            got = await conn.fetchall("SELECT id, s, n, f FROM bulk_values ORDER BY id")
        assert [(int(r[0]), r[1], None if r[2] is None else int(r[2]), r[3]) for r in got] == rows
    finally:
        async with db.transaction() as conn:
            await conn.execute("DROP TABLE IF EXISTS bulk_values")
