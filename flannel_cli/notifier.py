"""``flannel notifier``: the notification service in a process of its own (scaled by workspace
with ``--partition``); and its composition root, which ``flannel up`` also uses to run it in-process.

It follows every workspace's change log in Redis, reads people and conversations from the
origin's databases (:class:`origin.notify_source.StoreSource`), publishes
``desktop_notification`` frames on the ephemeral bus (every edge delivers them to the user's
connections) and emails through SMTP. Its offsets and what it still owes are saved in
``--state-dir``, so a restart resumes there. ``--partition K/N`` runs one of N notifiers, each
owning the workspaces whose id hashes to K (scaling by workspace; give each its own state
directory or the same one: the file is named after the partition).

SMTP: ``--smtp-host`` (with ``--smtp-port``, ``--smtp-security``, ``--smtp-user``) or, the
same in one value, ``--smtp-url smtp://host:port`` (``smtps://`` for TLS, ``?starttls=1``).
The password is read from ``FLANNEL_SMTP_PASSWORD`` only (a flag would show in ``ps``). No
SMTP configured: email is off, and the notifier says so at start.

``flannel origin`` runs this command as a child process of its own by default: see
:mod:`flannel_cli.notifier_child`; such a child stops when its parent is gone
(:func:`watch_parent`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flannel_cli.options import (
    add_database,
    add_flag,
    add_listen,
    add_log_level,
    add_secret,
    database_urls,
)

if TYPE_CHECKING:
    from changelog import TailableLog
    from ephemeral import OnlineStore, Publisher
    from notifier.decide import Channel
    from notifier.mailer import SmtpConfig
    from notifier.ports import Person, Source
    from notifier.service import Notifier, NotifierConfig
    from origin.store.shards import Store

logger = logging.getLogger("flannel.notifier")
SECURITY = ("none", "starttls", "tls")
PASSWORD_ENV = "FLANNEL_SMTP_PASSWORD"
#: Set by ``flannel origin`` in its child's environment: the child stops when that pid is gone
#: (its parent was killed without a chance to stop it).
PARENT_ENV = "FLANNEL_NOTIFIER_PARENT"
_background: set[asyncio.Task[None]] = set()  # tasks kept referenced while they run


def partition(text: str) -> tuple[int, int]:
    """A ``--partition`` value, ``K/N`` with 0 <= K < N."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 0 <= int(k) < int(n):
        raise ValueError(text)
    return int(k), int(n)


def add_smtp(p: argparse.ArgumentParser) -> None:
    add_flag(
        p, "--smtp-url", help="smtp://[user@]host:port (smtps:// for TLS, ?starttls=1); or the flags below"
    )
    add_flag(p, "--smtp-host", help="the SMTP server; email is off when neither it nor --smtp-url is set")
    add_flag(p, "--smtp-port", type=int, shown="25, 465 with tls", help="the SMTP server's port")
    add_flag(p, "--smtp-security", choices=SECURITY, default="none", help="none, starttls or tls (implicit)")
    add_flag(p, "--smtp-user", help=f"SMTP login; its password is read from {PASSWORD_ENV} only")
    add_flag(p, "--smtp-from", default="notifications@flannel.local", help="the From address of emails")
    add_flag(
        p,
        "--email-delay",
        type=int,
        default=300,
        help="seconds a mention must stay unread, with the user away, before it is emailed",
    )
    add_flag(
        p,
        "--large-channel",
        type=int,
        default=1000,
        help="above this many members @channel/@here notify nobody",
    )
    add_flag(
        p,
        "--web-url",
        default="http://localhost:8000",
        help="base of the permalinks and the preferences link in emails",
    )


def add_origin_flags(p: argparse.ArgumentParser) -> None:
    """``flannel origin``'s flags for the notifier it runs as a child process."""
    add_flag(
        p,
        "--no-notifier",
        action="store_true",
        help="run no notifier child process (run `flannel notifier` on its own instead)",
    )
    add_flag(
        p,
        "--notifier-port",
        type=int,
        default=0,
        shown="0 (any free port)",
        help="port of the child notifier's /healthz and /internal/stats, on 127.0.0.1",
    )
    add_flag(
        p,
        "--notifier-state-dir",
        default=".flannel/notifier",
        help="where the child notifier keeps its offsets and owed notifications "
        "(one subdirectory per change log)",
    )
    add_smtp(p)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "notifier", help="run the notifier (desktop notifications and email, from the change log)"
    )
    add_database(p)
    add_flag(
        p, "--redis-url", help="redis://host:port/db (needed): the change log, the ephemeral bus, presence"
    )
    add_flag(p, "--redis-prefix", default="flannel:", help="every Redis key starts with it")
    add_secret(p)
    add_listen(p, 8300, port_help="port of /healthz and /internal/stats")
    add_smtp(p)
    add_flag(
        p, "--state-dir", default=".flannel/notifier", help="where offsets and owed notifications are kept"
    )
    add_flag(
        p,
        "--partition",
        type=partition,
        default="0/1",
        expected="K/N with 0 <= K < N",
        help="own K of N workspace partitions",
    )
    add_log_level(p)


def smtp_config(args: argparse.Namespace) -> SmtpConfig | None:
    """The SMTP settings the flags give, or None (email off). Raises ValueError, with why."""
    from notifier.mailer import SmtpConfig

    password = os.environ.get(PASSWORD_ENV) or None
    if args.smtp_url and args.smtp_host:
        raise ValueError("give --smtp-url or --smtp-host, not both")
    if args.smtp_url:
        config = SmtpConfig.from_url(args.smtp_url)
        user = args.smtp_user or config.username
        return SmtpConfig(
            config.host, config.port, user, password or config.password, config.use_tls, config.start_tls
        )
    if not args.smtp_host:
        if args.smtp_user or args.smtp_security != "none":
            raise ValueError("--smtp-user and --smtp-security need --smtp-host")
        return None
    tls = args.smtp_security == "tls"
    port = args.smtp_port or (465 if tls else 25)
    if args.smtp_user and not password:
        raise ValueError(f"--smtp-user needs its password in {PASSWORD_ENV}")
    return SmtpConfig(
        args.smtp_host,
        port,
        args.smtp_user,
        password,
        use_tls=tls,
        start_tls=args.smtp_security == "starttls",
    )


def notifier_config(args: argparse.Namespace) -> NotifierConfig:
    from notifier.service import NotifierConfig

    if args.email_delay < 0 or args.large_channel < 1:
        raise ValueError("--email-delay must be >= 0 and --large-channel >= 1")
    return NotifierConfig(
        large_channel=args.large_channel,
        email_delay_s=args.email_delay,
        base_url=args.web_url,
        smtp_from=args.smtp_from,
    )


def owns(team_id: str, part: tuple[int, int]) -> bool:
    """Whether partition ``part`` (K, N) owns ``team_id``: a stable hash, the same everywhere."""
    k, n = part
    return n == 1 or int.from_bytes(hashlib.sha256(team_id.encode()).digest()[:8], "big") % n == k


@dataclass
class PartitionedSource:
    """The store's source, listing only the workspaces of one partition."""

    inner: Source
    part: tuple[int, int]

    async def teams(self) -> list[str]:
        return [t for t in await self.inner.teams() if owns(t, self.part)]

    async def head(self, team_id: str) -> int:
        return await self.inner.head(team_id)

    async def team_name(self, team_id: str) -> str:
        return await self.inner.team_name(team_id)

    async def channel(self, team_id: str, channel_id: str) -> Channel | None:
        return await self.inner.channel(team_id, channel_id)

    async def people(self, team_id: str, user_ids: Collection[str]) -> Mapping[str, Person]:
        return await self.inner.people(team_id, user_ids)


def state_path(state_dir: str | Path, part: tuple[int, int] = (0, 1)) -> Path:
    name = "notifier.json" if part == (0, 1) else f"notifier-{part[0]}-of-{part[1]}.json"
    return Path(state_dir) / name


def build_notifier(
    store: Store,
    log: TailableLog,
    publisher: Publisher | None,
    config: NotifierConfig,
    smtp: SmtpConfig | None,
    state_file: Path,
    online: OnlineStore | None = None,
    part: tuple[int, int] = (0, 1),
) -> Notifier:
    """The notifier over ``store`` and ``log`` (shared, left open), delivering desktop
    notifications on ``publisher`` (None: nowhere, logged at start), knowing who is active
    from the edges' ``online`` store (None: everyone counts as away)."""
    from changelog import LogReader
    from notifier.desktop import BusDesktop
    from notifier.mailer import SmtpMailer
    from notifier.ports import MemorySink, NobodyActive
    from notifier.presence import OnlinePresence
    from notifier.service import Notifier
    from notifier.state import FileState
    from origin.notify_source import StoreSource

    if publisher is None:
        logger.warning("notifier: no ephemeral bus, desktop notifications reach no connection")
    source: Source = StoreSource(store)
    if part != (0, 1):
        source = PartitionedSource(source, part)
    return Notifier(
        LogReader(log),
        source,
        OnlinePresence(online) if online is not None else NobodyActive(),
        BusDesktop(publisher) if publisher is not None else MemorySink(),
        SmtpMailer(smtp) if smtp is not None else None,
        FileState(state_file),
        config,
    )


async def _main(args: argparse.Namespace, smtp: SmtpConfig | None, config: NotifierConfig) -> None:
    from changelog import RedisLog
    from ephemeral.factory import Ephemeral
    from flannel_cli.serve import config as server_config
    from flannel_cli.serve import serve_all
    from notifier.app import create_app
    from origin.store.shards import Store

    store = await Store.open(database_urls(args))
    log = RedisLog(args.redis_url, args.redis_prefix)
    ephemeral = Ephemeral(args.redis_url, args.redis_prefix)
    notifier = build_notifier(
        store,
        log,
        ephemeral.bus(),
        config,
        smtp,
        state_path(args.state_dir, args.partition),
        online=ephemeral.online,
        part=args.partition,
    )
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        _background.add(asyncio.get_running_loop().create_task(watch_parent(int(parent))))
    k, n = args.partition
    logger.info(
        "notifier: partition %d/%d, email %s", k, n, f"via {smtp.host}:{smtp.port}" if smtp else "off"
    )
    app = create_app(notifier, args.secret, [ephemeral.close, log.close, store.close])
    await serve_all([server_config(app, args.host, args.port, args.log_level, "notifier")])


def run(args: argparse.Namespace) -> int:
    from flannel_cli.serve import run as run_loop

    try:
        smtp = smtp_config(args)
        config = notifier_config(args)
    except ValueError as exc:
        print(f"flannel notifier: {exc}", file=sys.stderr)
        return 2
    if not args.redis_url:
        print(
            "flannel notifier: --redis-url is needed (the change log and the ephemeral bus); "
            "`flannel up` runs the notifier in-process without Redis",
            file=sys.stderr,
        )
        return 2
    run_loop(_main(args, smtp, config))
    return 0


async def watch_parent(pid: int, every_s: float = 1.0) -> None:
    """Stop this process gracefully (SIGTERM to itself: the servers drain, the state is saved)
    once its parent ``pid`` is gone, e.g. killed with -9 before it could stop its child."""
    while os.getppid() == pid:  # noqa: ASYNC110  (nothing signals a parent's death: polled)
        await asyncio.sleep(every_s)
    logger.warning("notifier: the origin (pid %d) is gone; stopping", pid)
    os.kill(os.getpid(), signal.SIGTERM)
