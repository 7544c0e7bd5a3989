"""``flannel origin``'s notifier child: by default the origin runs ``flannel notifier`` as a
child process of its own (:class:`ChildNotifier`: given the origin's databases, Redis, secret and
SMTP settings through its environment, restarted when it dies, stopped when the origin stops).
``--no-notifier`` turns that off, for deployments that run ``flannel notifier`` on its own
(docker-compose does). Without Redis there is no change log for it to follow, so the origin runs
none and says so."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from flannel_cli.notifier import PARENT_ENV, notifier_config, smtp_config
from flannel_cli.options import database_urls

logger = logging.getLogger("flannel.notifier")


def child_env(args: argparse.Namespace, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``flannel origin``'s notifier child: ``base`` (the origin's own, so
    ``FLANNEL_SMTP_PASSWORD`` and the log format carry over) with every notifier setting set
    from the origin's parsed flags. Settings travel in the environment, not the command line,
    so database, Redis and SMTP credentials and the secret never show in ``ps``; and each is
    set explicitly, so a variable meant for the origin (``FLANNEL_PORT``) never reaches the
    notifier's flag of the same name."""
    state_dir = Path(args.notifier_state_dir) / _log_key(args.redis_url, args.redis_prefix)
    values: dict[str, object] = {
        "FLANNEL_DATABASE_URL": ",".join(database_urls(args)),
        "FLANNEL_REDIS_URL": args.redis_url,
        "FLANNEL_REDIS_PREFIX": args.redis_prefix,
        "FLANNEL_SECRET": args.secret,
        "FLANNEL_HOST": "127.0.0.1",
        "FLANNEL_PORT": args.notifier_port,
        "FLANNEL_LOG_LEVEL": args.log_level,
        "FLANNEL_STATE_DIR": state_dir,
        "FLANNEL_PARTITION": "0/1",
        "FLANNEL_SMTP_URL": args.smtp_url,
        "FLANNEL_SMTP_HOST": args.smtp_host,
        "FLANNEL_SMTP_PORT": args.smtp_port,
        "FLANNEL_SMTP_SECURITY": args.smtp_security,
        "FLANNEL_SMTP_USER": args.smtp_user,
        "FLANNEL_SMTP_FROM": args.smtp_from,
        "FLANNEL_EMAIL_DELAY": args.email_delay,
        "FLANNEL_LARGE_CHANNEL": args.large_channel,
        "FLANNEL_WEB_URL": args.web_url,
        PARENT_ENV: os.getpid(),
    }
    env = dict(base)
    for name, value in values.items():
        if value is None or value == "":
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def _log_key(redis_url: str, prefix: str) -> str:
    """A state directory per change log: two origins on different Redis servers or prefixes,
    started from one working directory, never share (and clobber) one state file."""
    return "log-" + hashlib.sha256(f"{redis_url}\n{prefix}".encode()).hexdigest()[:12]


def origin_child(args: argparse.Namespace) -> ChildNotifier | None:
    """The notifier child ``flannel origin``'s flags ask for, not yet started; None when it is
    off (``--no-notifier``) or cannot run (no Redis: no change log to follow), said in the log.
    Raises ValueError for bad notifier settings, so the origin refuses to start with them."""
    if args.no_notifier:
        logger.info("notifier: not run by the origin (--no-notifier)")
        return None
    smtp = smtp_config(args)
    notifier_config(args)
    if not args.redis_url:
        logger.warning(
            "notifier: not run: it follows the change log in Redis and --redis-url is not set "
            "(`flannel up` runs one in-process without Redis)"
        )
        return None
    if smtp is None:
        logger.warning(
            "notifier: no SMTP configured (--smtp-url or --smtp-host): email notifications are off; "
            "desktop notifications still go out on the ephemeral bus"
        )
    argv = [sys.executable, "-m", "flannel_cli.main", "notifier"]
    return ChildNotifier(argv, child_env(args, os.environ))


class ChildNotifier:
    """Runs ``argv`` as a child process and keeps it running: restarted when it exits (after
    ``backoff_s``, doubled at each quick death up to ``max_backoff_s``, reset once a child has
    lived ``healthy_s``), until :meth:`stop`, which terminates it (SIGTERM: a graceful stop,
    its state saved; SIGKILL after ``grace_s``). A supervising thread waits on the child, so the
    origin's event loop is not involved. ``starts`` counts the children started."""

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        healthy_s: float = 60.0,
        grace_s: float = 15.0,
    ) -> None:
        self.argv = argv
        self.env = dict(env)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_s = healthy_s
        self.grace_s = grace_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="notifier-child", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        delay = self.backoff_s
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                proc: subprocess.Popen[bytes] | None = None
                try:
                    started = subprocess.Popen(self.argv, env=self.env)
                except OSError:
                    logger.exception("notifier: could not start the child process")
                else:
                    proc = self.proc = started
                    self.starts += 1
                    logger.info("notifier: child process %d started", started.pid)
            began = time.monotonic()
            code = proc.wait() if proc is not None else None
            if self._stopping.is_set():
                return
            if time.monotonic() - began >= self.healthy_s:
                delay = self.backoff_s
            logger.warning("notifier: child process exited (%s); restarting in %.0fs", code, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_backoff_s)

    def stop(self) -> int | None:
        """Stop supervising and stop the child; its exit code (None if none was running)."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(self.grace_s)
                except subprocess.TimeoutExpired:
                    logger.warning("notifier: child process %d did not stop; killing it", proc.pid)
                    proc.kill()
                    proc.wait()
            code = proc.returncode
        if self._thread is not None:
            self._thread.join(self.grace_s)
        return code
