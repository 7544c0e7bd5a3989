"""``flannel origin`` runs the notifier as a child process by default: with Redis (its change
log) and aiosmtpd as the SMTP server, an away user's DM is emailed after ``--email-delay``; a
child killed with -9 is restarted and delivers again; stopping the origin stops the child. With
``--no-notifier`` (or without Redis) the origin starts no child at all."""

from __future__ import annotations

import os
import signal
from email.message import Message
from pathlib import Path

import httpx
import orjson

from origin.service import notifyprefs
from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import make_team
from tests.notifier.test_e2e import Inbox, api, smtp, until  # noqa: F401  (smtp: the fixture)

CHILD_ON = {"FLANNEL_NO_NOTIFIER": ""}  # whatever the environment says (empty: unset)


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux: /proc/<pid>/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [c for c in out if Path(f"/proc/{c}").exists() and not _zombie(c)]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


async def healthy(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False


def plain(mail: Message) -> str:
    """The text/plain part of ``mail``."""
    for part in mail.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            return payload.decode() if isinstance(payload, bytes) else ""
    return ""


def origin_args(db: str, *extra: str) -> list[str]:
    return ["origin", "--log-level", "info", "--database-url", db, *extra]


async def test_origin_runs_a_notifier_child_that_emails_and_is_restarted(
    start_server: type[ServerProcess],
    redis_url: str,
    redis_prefix: str,
    smtp: tuple[Inbox, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox, smtp_port = smtp
    db = f"sqlite:///{tmp_path}/origin.db"
    store = await Store.open([db])
    try:
        team = await make_team(store)
        await notifyprefs.set_prefs(store, team.bob.caller, {"email": {"enabled": True}})
    finally:
        await store.close()
    nport = free_port()
    origin = start_server(
        origin_args(
            db,
            *("--redis-url", redis_url, "--redis-prefix", redis_prefix),
            *("--smtp-url", f"smtp://127.0.0.1:{smtp_port}", "--email-delay", "1"),
            *("--notifier-port", str(nport), "--notifier-state-dir", str(tmp_path / "state")),
        ),
        free_port(),
        env=CHILD_ON,
    ).start()
    assert origin.proc is not None
    await until("the origin's notifier child answers /healthz", lambda: healthy(nport), 60)
    (first,) = children(origin.proc.pid)
    # the secret and the databases reach the child through its environment, not its command line
    argv = Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
    assert b"notifier" in argv and not any(redis_url.encode() in a or b"sqlite" in a for a in argv)

    async def emailed(n: int) -> bool:
        return len([m for m in inbox.messages if m["To"] == "bob@example.com"]) >= n

    # bob has no connection anywhere (away): his DM is emailed once the delay has passed
    await api(origin.url, "chat.postMessage", team.alice.token, channel=team.bob.id, text="are you around?")
    await until("the child notifier emails bob's DM", lambda: emailed(1), 30)
    assert "are you around?" in plain(next(m for m in inbox.messages if m["To"] == "bob@example.com"))
    assert not any(m["To"] == "alice@example.com" for m in inbox.messages)  # never the sender

    # Delivery is at least once: an email the SMTP server took is recorded in the saved state
    # just after, and a kill between the two repeats it (same Message-ID: tests/notifier/
    # test_crash_e2e.py). Killed once the state on disk owes nothing, the child must repeat nothing.
    async def recorded() -> bool:
        saved = [orjson.loads(f.read_bytes()) for f in (tmp_path / "state").rglob("notifier.json")]
        return bool(saved) and all(not s.get("schedule") for s in saved)

    await until("the sent email is recorded in the child's saved state", recorded, 30)
    os.kill(first, signal.SIGKILL)  # the origin restarts a child that died

    pid = origin.proc.pid

    async def restarted() -> bool:
        return bool([c for c in children(pid) if c != first]) and await healthy(nport)

    await until("the origin restarts its notifier child", restarted, 60)
    (second,) = children(pid)
    await api(origin.url, "chat.postMessage", team.alice.token, channel=team.bob.id, text="still there?")
    await until("the restarted child emails the next DM", lambda: emailed(2), 30)
    texts = [plain(m) for m in inbox.messages if m["To"] == "bob@example.com"]
    assert sum("are you around?" in t for t in texts) == 1  # resumed at its offset: no repeat

    origin.stop()  # SIGTERM (SIGKILL after 15 s): either way the child does not outlive it

    async def gone() -> bool:
        return not Path(f"/proc/{second}").exists() or _zombie(second)

    await until("the notifier child stops with the origin", gone, 30)


async def test_no_notifier_and_no_redis_start_no_child(
    start_server: type[ServerProcess], redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/origin.db"
    nport = free_port()
    redis = ("--redis-url", redis_url, "--redis-prefix", redis_prefix, "--notifier-port", str(nport))
    off = start_server(origin_args(db, *redis, "--no-notifier"), free_port(), env=CHILD_ON).start()
    no_redis = start_server(origin_args(db, "--notifier-port", str(nport)), free_port(), env=CHILD_ON).start()
    assert off.proc is not None and no_redis.proc is not None
    # both origins serve (start() waited for their /healthz); neither has a child, nor a notifier port
    assert children(off.proc.pid) == [] and children(no_redis.proc.pid) == []
    assert not await healthy(nport)
    off.stop()
    no_redis.stop()
    assert "--no-notifier" in off.log.read_text()
    assert "--redis-url is not set" in no_redis.log.read_text()
