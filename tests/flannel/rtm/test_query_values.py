"""The ``/rtm`` handshake's query parsing agrees with starlette's ``QueryParams``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from flannel.rtm_endpoint import query_values
from wire.tickets import issue

NAMES = ("ticket", "resume_from")
PIECES = st.sampled_from(
    ["ticket", "resume_from", "tick%65t", "resume+from", "x", "=", "&", "%", "+", "%2B", "é", "7", ""]
)


@given(st.lists(PIECES, max_size=12))
def test_agrees_with_query_params(pieces: list[str]) -> None:
    raw = "".join(pieces).encode("utf-8")
    expected = {k: v for k, v in QueryParams(raw).items() if k in NAMES}
    assert query_values(raw, *NAMES) == expected


def test_a_real_handshake_query() -> None:
    ticket = issue("s3cret", "U1", "T1", "E1", resume_from=5)
    raw = f"ticket={ticket}&resume_from=12&other=%41".encode()
    assert query_values(raw, *NAMES) == {"ticket": ticket, "resume_from": "12"}
    assert query_values(b"resume_from=1&resume_from=2", *NAMES) == {
        "resume_from": "2"
    }  # the last, as starlette
    assert query_values(b"", *NAMES) == {}
