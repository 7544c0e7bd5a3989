"""The window's read index (prefix sums, per-user lists) counts exactly what walking the
window counts, for any messages, edits, deletes, cursors and users."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wire.readstate import ReadState

USERS = ["U1", "U2", "U3"]
TEXTS = ["hi", "<@U1> look", "<@U2> and <@U1>", "<!channel> all", "<!here> now", "<@U3>"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["post", "post", "reply", "broadcast", "join", "edit", "delete"]),
        st.integers(0, 2),
        st.integers(0, 40),
        st.integers(0, len(TEXTS) - 1),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(OPS, st.integers(2, 12))
def test_index_counts_equal_the_walk(ops: list[tuple[str, int, int, int]], size: int) -> None:
    reads = ReadState(window=size)
    for kind, who, n, text in ops:
        ts = f"{1000 + n}.000000"
        event: dict[str, object] = {"channel": "C1", "user": USERS[who], "text": TEXTS[text]}
        if kind == "edit":
            reads.apply({"type": "message_changed", "channel": "C1", "message": {**event, "ts": ts}})
        elif kind == "delete":
            reads.apply({"type": "message_deleted", "channel": "C1", "deleted_ts": ts})
        else:
            event |= {"type": "message", "ts": ts}
            if kind in ("reply", "broadcast"):
                event["thread_ts"] = f"{1000 + n // 2}.000000"
                if kind == "broadcast":
                    event["subtype"] = "thread_broadcast"
            if kind == "join":
                event["subtype"] = "channel_join"
            reads.apply(event)
        window = reads.windows.get("C1")
        if window is None:
            continue
        for user in USERS:
            for last_read in (0, 1005_000000, 1020_000000, 1040_000000):
                assert window.count(user, last_read) == window.count_slowly(user, last_read)
