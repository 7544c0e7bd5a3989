"""Flags, each declared once with its environment-variable fallback; and the flags shared by
the subcommands.

:func:`add_flag` declares a flag, its environment variable (``--cache-mb`` reads
``FLANNEL_CACHE_MB`` unless told another name), its type and its default. Precedence is the
usual one: a value on the command line, else the variable, else the default. The variable is
read only when the command being parsed has the flag and its command line does not give it (a
bad ``FLANNEL_CACHE_MB`` does not stop ``flannel origin``). It is converted with the flag's own
type (a switch's variable is a boolean: 1/0, true/false, yes/no, on/off; empty is unset), and a
value that does not convert stops the command with one line and exit code 2::

    flannel: FLANNEL_PORT='abc' is not an integer

A bad value on the command line keeps argparse's usual error. :class:`FlagParser` is the parser
class that applies the fallbacks (``flannel_cli.main.build_parser`` creates one, and its
subparsers inherit the class); ``flannel_cli.reference`` renders the declarations as
``docs/configuration.md``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from origin.api.ratelimit import DEFAULT_TIERS, parse_tiers
from origin.settings import DEFAULT_DATABASE_URL, OriginSettings
from origin.store.urls import split_urls

ENV_PREFIX = "FLANNEL_"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
#: What a value of each type must look like, for the error message.
EXPECTED: dict[Any, str] = {int: "an integer", float: "a number", None: "a string"}
BOOLEAN = "a boolean (1/0, true/false, yes/no, on/off)"


def env(name: str, default: str | None = None) -> str | None:
    """The variable ``name``, or ``default`` when it is unset or empty (for settings that are
    not flags, e.g. ``FLANNEL_LOG_FORMAT``)."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_name(flag: str) -> str:
    """``--cache-mb`` -> ``FLANNEL_CACHE_MB``."""
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


#: Put in the namespace before parsing: a flag still holding it was not on the command line.
UNSET: Any = _Unset()


class BadEnvironment(Exception):
    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"{name}={value!r} is not {expected}")


@dataclass(frozen=True)
class Flag:
    """One flag's declaration: what the reference shows and what the fallback needs."""

    action: argparse.Action
    env: str
    convert: Callable[[str], Any] | None
    default: Any
    help: str
    expected: str
    shown: str  # the default as the reference shows it ("" for none)

    @property
    def switch(self) -> bool:
        """A flag without a value (``store_true``): the variable is a boolean."""
        return self.action.nargs == 0

    @property
    def repeated(self) -> bool:
        return isinstance(self.action, argparse._AppendAction)

    def fallback(self) -> Any:
        """The default; a string one is converted like a command-line value, as argparse does."""
        if isinstance(self.default, str) and self.convert is not None:
            return self.convert(self.default)
        return self.default

    def from_env(self) -> Any:
        """The variable's value, converted, or :data:`UNSET` when it is unset or empty.
        Raises :class:`BadEnvironment` when it does not convert."""
        raw = os.environ.get(self.env, "")
        if raw == "":
            return UNSET
        if self.switch:
            word = raw.strip().lower()
            if word not in TRUE | FALSE:
                raise BadEnvironment(self.env, raw, BOOLEAN)
            return word in TRUE
        try:
            value = raw if self.convert is None else self.convert(raw)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            raise BadEnvironment(self.env, raw, self.expected) from None
        if self.action.choices is not None and value not in self.action.choices:
            raise BadEnvironment(self.env, raw, "one of " + ", ".join(map(str, self.action.choices)))
        return [value] if self.repeated else value


class FlagParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose :func:`add_flag` flags fall back to the environment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flags: list[Flag] = []

    def flag(self, action: argparse.Action) -> Flag | None:
        return next((f for f in self.flags if f.action is action), None)

    def parse_known_args(  # type: ignore[override]  # one signature for typeshed's overloads
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace = argparse.Namespace() if namespace is None else namespace
        mine = [f for f in self.flags if not hasattr(namespace, f.action.dest)]
        # The variable gives a required flag: relaxed for this parse only.
        relaxed = [f for f in mine if f.action.required and os.environ.get(f.env, "") != ""]
        for f in mine:
            # An appended flag starts from nothing, so the command line replaces the variable.
            setattr(namespace, f.action.dest, None if f.repeated else UNSET)
        for f in relaxed:
            f.action.required = False
        try:
            parsed, rest = super().parse_known_args(args, namespace)
        finally:
            for f in relaxed:
                f.action.required = True
        try:
            for f in mine:
                value = getattr(parsed, f.action.dest, UNSET)
                if value is UNSET or (f.repeated and value is None):
                    value = f.from_env()  # read only when the command line did not give it
                    setattr(parsed, f.action.dest, f.fallback() if value is UNSET else value)
        except BadEnvironment as exc:
            self.exit(2, f"{self.prog.split()[0]}: {exc}\n")
        return parsed, rest


def add_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    env: str | None = None,
    type: Callable[[str], Any] | None = None,
    default: Any = None,
    help: str = "",
    action: str | None = None,
    required: bool = False,
    choices: Sequence[Any] | None = None,
    expected: str | None = None,
    shown: str | None = None,
) -> argparse.Action:
    """Declare ``flag`` on ``parser`` with its environment fallback ``env`` (derived from the
    flag's name when not given). ``type`` converts both the command line's value and the
    variable's; ``expected`` says what a good value looks like in the error message (derived
    for int and float); ``shown`` is the default as the reference shows it, when the real
    default is computed elsewhere. ``action`` may be ``store_true`` or ``append``."""
    if not isinstance(parser, FlagParser):
        raise TypeError("add_flag needs a FlagParser (build the top parser with FlagParser)")
    name = env or env_name(flag)
    if action == "store_true" and default is None:
        default = False
    kwargs: dict[str, Any] = {"default": default, "required": required}
    if action is not None:
        kwargs["action"] = action
    if action != "store_true":
        kwargs["type"] = type
        kwargs["choices"] = choices
    if shown is None:
        values = default if isinstance(default, list) else [default]
        shown = ",".join(str(v) for v in values if v not in (None, False, ""))
    described = f"env {name}" + (f"; default {shown}" if shown else "")
    created = parser.add_argument(flag, help=f"{help} ({described})" if help else described, **kwargs)
    expected = expected or EXPECTED.get(type) or f"a valid {getattr(type, '__name__', 'value')}"
    parser.flags.append(Flag(created, name, type, default, help, expected, shown))
    return created


def tier_list(text: str) -> str:
    """A ``--rate-limits`` value, checked: ``"1:20,2:600"`` (tier:calls per minute)."""
    parse_tiers(text)
    return text


DEFAULT_RATE_LIMITS = ",".join(f"{tier}:{rate:g}" for tier, rate in DEFAULT_TIERS.items())


def add_rate_limits(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--rate-limits",
        type=tier_list,
        expected=f'a tier list like "{DEFAULT_RATE_LIMITS}"',
        shown=DEFAULT_RATE_LIMITS,
        help=f'calls per minute per token for each tier, e.g. "{DEFAULT_RATE_LIMITS}"; tiers '
        "left out keep their default",
    )


def add_search(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--search-engine",
        default="tantivy",
        choices=("tantivy", "database"),
        help="search.messages on an index fed from the change log in this process (tantivy), "
        "or on the database's own full-text index (MariaDB FULLTEXT, SQLite FTS5)",
    )
    add_flag(
        parser,
        "--search-dir",
        default="",
        shown="a temporary directory",
        help="where the search index lives (resumed after a restart); when unset, a temporary "
        "index rebuilt from the database at start",
    )


def add_log_level(parser: argparse.ArgumentParser, default: str = "info") -> None:
    add_flag(parser, "--log-level", default=default, help="debug, info, warning or error")


def add_database(parser: argparse.ArgumentParser, shown: str = DEFAULT_DATABASE_URL) -> None:
    add_flag(
        parser,
        "--database-url",
        action="append",
        shown=shown,
        help="sqlite:///path.db or mysql://user:pw@host:port/db; repeat or comma-separate for several shards",
    )


def add_redis(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--redis-url", help="redis://host:port/db; in-process when absent")
    add_flag(parser, "--redis-prefix", default="flannel:", help="every Redis key starts with it")


def add_secret(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--secret",
        default=DEFAULT_SECRET,
        help="service-to-service and ticket signing secret",
    )


DEFAULT_SECRET = "dev-secret-change-me"
#: Secrets that ship in this repository (the CLI's default, docker-compose's old default).
KNOWN_SECRETS = frozenset({DEFAULT_SECRET, "change-me-in-production", ""})
LOOPBACK = ("127.", "::1", "localhost")


def insecure_secret(host: str | None, secret: str | None) -> str | None:
    """Why serving on ``host`` with ``secret`` is refused, or None when it is fine.

    The secret signs tickets and lets a service act as any user: a known one on an address
    others can reach forges both. On loopback (development, tests) the default is fine.
    """
    if host is None or host.startswith(LOOPBACK) or secret not in KNOWN_SECRETS:
        return None
    return (
        f"refusing to listen on {host} with the default secret: set FLANNEL_SECRET (or --secret) "
        "to a long random value shared by origin, edges and router"
    )


def add_listen(parser: argparse.ArgumentParser, port: int, port_help: str = "port to listen on") -> None:
    add_flag(parser, "--host", default="127.0.0.1", help="address to listen on")
    add_flag(parser, "--port", type=int, default=port, help=port_help)


def database_urls(args: argparse.Namespace) -> list[str]:
    """The shards: the flag's values (or ``FLANNEL_DATABASE_URL``'s), comma-separated or
    repeated, else the default."""
    return split_urls(getattr(args, "database_url", None)) or [DEFAULT_DATABASE_URL]


def origin_settings(args: argparse.Namespace) -> OriginSettings:
    settings = OriginSettings(
        database_urls=database_urls(args),
        redis_url=getattr(args, "redis_url", None),
        redis_prefix=getattr(args, "redis_prefix", "flannel:"),
        secret=getattr(args, "secret", DEFAULT_SECRET),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8000),
    )
    settings.log_max_events = getattr(args, "log_max_events", settings.log_max_events)
    settings.log_max_age_s = getattr(args, "log_max_age", settings.log_max_age_s)
    settings.relay_fault = env("FLANNEL_RELAY_FAULT")
    settings.import_dir = env("FLANNEL_IMPORT_DIR") or None
    settings.export_dir = env("FLANNEL_EXPORT_DIR") or None
    settings.search_engine = getattr(args, "search_engine", None) or settings.search_engine
    settings.search_dir = getattr(args, "search_dir", None) or settings.search_dir
    limits = getattr(args, "rate_limits", None)
    if limits:
        settings.rate_limits = parse_tiers(limits)
    from flannel_cli.files import files_settings

    settings.files = files_settings(args)
    return settings
