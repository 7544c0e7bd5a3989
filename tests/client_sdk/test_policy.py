"""Backoff with full jitter, Retry-After, and what each close code leads to."""

from __future__ import annotations

import random

import pytest

from client_sdk import ApiError, AuthError, Backoff, ClientClosed, ConnectionLost, RateLimited, RequestTimeout
from client_sdk.policy import Next, WriteRetry, after_close, done_by_earlier_attempt, retryable
from wire import closecodes


def test_full_jitter_stays_under_an_exponential_ceiling_up_to_the_cap() -> None:
    rng = random.Random(7)
    backoff = Backoff(base=0.5, cap=8.0, rand=rng.random)
    delays = [backoff.next() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(0 <= d < c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    highest = Backoff(base=0.5, cap=8.0, rand=lambda: 0.999999, attempt=40)
    assert highest.next() < 8.0


def test_retry_after_is_never_shortened_and_reset_starts_over() -> None:
    backoff = Backoff(base=1.0, rand=lambda: 0.0)
    assert backoff.retry_after(3.0) == 3.0
    assert Backoff(base=1.0, rand=lambda: 0.99).retry_after(3.0) >= 3.0
    backoff.next()
    backoff.reset()
    assert backoff.attempt == 0


@pytest.mark.parametrize(
    ("code", "goodbye", "expected"),
    [
        (closecodes.TOKEN_REVOKED, False, Next.STOP),
        (closecodes.ACCOUNT_INACTIVE, False, Next.STOP),
        (closecodes.GOING_AWAY, True, Next.SOON),
        (closecodes.GOING_AWAY, False, Next.SOON),
        (closecodes.TOO_SLOW, False, Next.SOON),
        (closecodes.RESYNC, False, Next.SOON),
        (None, False, Next.LOST),  # no close frame: the edge vanished (kill -9)
        (1006, False, Next.LOST),  # abnormal closure: the edge died
        (1011, False, Next.BACKOFF),  # a live edge's internal error
        (closecodes.RATE_LIMITED, False, Next.BACKOFF),
        (closecodes.BAD_TICKET, False, Next.BACKOFF),  # a fresh rtm.connect gives a new ticket
        (closecodes.UNAVAILABLE, False, Next.BACKOFF),
        (closecodes.NORMAL, True, Next.SOON),
    ],
)
def test_close_codes(code: int | None, goodbye: bool, expected: Next) -> None:
    nxt, error = after_close(code, "why", goodbye)
    assert nxt is expected
    assert (error is not None) == (expected is Next.STOP)
    if error is not None:
        assert isinstance(error, AuthError)
        expected_code = {
            closecodes.TOKEN_REVOKED: "token_revoked",
            closecodes.ACCOUNT_INACTIVE: "account_inactive",
        }
        assert error.code == expected_code[code or 0]


def test_what_a_write_may_be_sent_again_after() -> None:
    again = [
        ConnectionLost("reset"),
        RequestTimeout("slow"),
        RateLimited(1.0),
        ApiError("origin_unreachable", status=502),
        ApiError("service_unavailable"),
        ApiError("weird", status=500),
    ]
    never = [ApiError("channel_not_found", status=200), AuthError("token_revoked"), ClientClosed("bye")]
    assert all(retryable(e) for e in again) and not any(retryable(e) for e in never)


def test_write_retries_start_fast_grow_and_stop_at_the_deadline() -> None:
    retry = WriteRetry(deadline=5.0, backoff=Backoff(base=0.1, cap=2.0, rand=lambda: 0.999))
    delays = [retry.delay(ConnectionLost("x"), elapsed=0.0) or 0.0 for _ in range(7)]
    assert 0 < delays[0] < 0.1  # the first retry is fast
    assert delays == sorted(delays) and max(delays) < 2.0
    assert retry.delay(ConnectionLost("x"), elapsed=4.9) == pytest.approx(0.1)  # clipped to what is left
    assert retry.delay(ConnectionLost("x"), elapsed=5.0) is None
    assert retry.delay(ApiError("not_in_channel"), elapsed=0.0) is None
    assert WriteRetry(deadline=5.0).delay(RateLimited(3.0), elapsed=1.0) == pytest.approx(3.0, abs=0.11)
    assert WriteRetry(deadline=5.0).delay(RateLimited(30.0), elapsed=1.0) is None  # never early


def test_an_already_done_answer_to_a_repeated_write_is_success() -> None:
    assert done_by_earlier_attempt("reactions.add", ApiError("already_reacted"), attempt=1)
    assert done_by_earlier_attempt("reactions.remove", ApiError("no_reaction"), attempt=2)
    assert done_by_earlier_attempt("chat.delete", ApiError("message_not_found"), attempt=1)
    assert not done_by_earlier_attempt("chat.delete", ApiError("message_not_found"), attempt=0)
    assert not done_by_earlier_attempt("chat.postMessage", ApiError("message_not_found"), attempt=1)
