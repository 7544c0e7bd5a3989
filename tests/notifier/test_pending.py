"""The schedule of what is owed: idempotent adds, reads cancel, batching, round trip."""

from __future__ import annotations

from notifier.pending import Item, Schedule


def item(user: str = "UB", ts: str = "1.000001", email_at: float | None = 100.0, **kw: object) -> Item:
    fields: dict[str, object] = {
        "team": "T1",
        "user": user,
        "channel": "C1",
        "ts": ts,
        "reason": "mention",
        "deliver_at": 0.0,
        "email_at": email_at,
        "desktop": True,
        "frame": {"ts": ts},
    }
    fields.update(kw)
    return Item(**fields)  # type: ignore[arg-type]


def test_add_is_idempotent_and_skips_nothing_owed() -> None:
    s = Schedule()
    assert s.add(item()) and not s.add(item())
    assert not s.add(item(ts="2.0", desktop=False, email_at=None))
    assert len(s) == 1


def test_desktop_then_email_then_gone() -> None:
    s = Schedule([item()])
    assert [i.ts for i in s.due_desktop(0)] == ["1.000001"]
    s.desktop_done(s.due_desktop(0)[0])
    assert s.due_desktop(1000) == [] and len(s) == 1
    assert s.due_emails(99) == []
    (batch,) = s.due_emails(100)
    s.email_done(batch)
    assert len(s) == 0


def test_held_desktop_waits_for_deliver_at() -> None:
    s = Schedule([item(deliver_at=50.0, email_at=None)])
    assert s.due_desktop(49) == [] and len(s.due_desktop(50)) == 1


def test_email_batch_takes_every_pending_item_of_the_user() -> None:
    s = Schedule(
        [item(ts="1.0", email_at=100), item(ts="2.0", email_at=130), item("UC", "3.0", email_at=500)]
    )
    (batch,) = s.due_emails(100)
    assert batch.user == "UB" and [i.ts for i in batch.items] == ["1.0", "2.0"]
    assert batch.idempotency_key == "T1.UB.C1.1.0.email"
    s.email_done(batch)
    assert [b.user for b in s.due_emails(500)] == ["UC"]


def test_read_cancels_up_to_the_mark_only() -> None:
    s = Schedule([item(ts="1.000001"), item(ts="1.000010"), item(ts="2.000000"), item("UC", "1.000001")])
    assert s.mark_read("T1", "UB", "C1", "1.00001") == 2
    assert sorted((i.user, i.ts) for i in s.items()) == [("UB", "2.000000"), ("UC", "1.000001")]
    assert s.mark_read("T1", "UB", "C2", "9.0") == 0


def test_cancel_by_message_or_by_user() -> None:
    s = Schedule([item(), item("UC"), item(ts="5.0")])
    assert s.cancel("T1", "C1", ts="1.000001") == 2
    assert s.cancel("T1", "C1", user="UB") == 1 and len(s) == 0


def test_json_round_trip() -> None:
    s = Schedule([item(), item("UC", deliver_at=9.5)])
    again = Schedule.from_json(s.to_json())
    assert sorted(again.items(), key=lambda i: i.user) == sorted(s.items(), key=lambda i: i.user)
