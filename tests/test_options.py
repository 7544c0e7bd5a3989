"""Every flag falls back to its environment variable, declared once (``flannel_cli.options``):
the command line wins over the variable, the variable over the default, and a variable that does
not fit its flag stops the command with one line naming it and exit code 2."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flannel_cli import edge, router, up
from flannel_cli.main import build_parser, main
from flannel_cli.options import FlagParser, add_flag, origin_settings
from origin.api.ratelimit import DEFAULT_TIERS
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLANNEL_"):
            monkeypatch.delenv(name)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``flannel argv`` in-process: it must exit 2 before serving anything; its stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


def parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser, nested admin commands included."""
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((name, parser))
        for sub in subs:
            for child, p in sub.choices.items():
                walk(f"{name} {child}".strip(), p)

    walk("", build_parser())
    return found


# One int or float flag of each command (admin has none: a switch), with a bad value.
BAD = [
    (["origin"], "FLANNEL_PORT", "abc", "is not an integer"),
    (["origin"], "FLANNEL_LOG_MAX_AGE", "a day", "is not a number"),
    (["edge"], "FLANNEL_CACHE_MB", "lots", "is not a number"),
    (["edge"], "FLANNEL_EDGE_CAPACITY", "1e4", "is not an integer"),
    (["router"], "FLANNEL_ROUTER_C", "x1.25", "is not a number"),
    (["router"], "FLANNEL_VNODES", "many", "is not an integer"),
    (["seed"], "FLANNEL_USERS", "ten", "is not an integer"),
    (["up"], "FLANNEL_PORT", "abc", "is not an integer"),
    (["up"], "FLANNEL_DEMO_USERS", "3.5", "is not an integer"),
    (["admin", "create-user", "--team", "T1", "--name", "x"], "FLANNEL_ADMIN", "maybe", "is not a boolean"),
    (["edge"], "FLANNEL_DEFLATE", "2", "is not a boolean"),
    (["origin"], "FLANNEL_RATE_LIMITS", "1:lots", "is not a tier list"),
    (["up"], "FLANNEL_RATE_LIMITS", "fast", "is not a tier list"),
]


@pytest.mark.parametrize(("argv", "name", "value", "reason"), BAD)
def test_a_bad_variable_exits_2_with_one_line_naming_it(
    argv: list[str],
    name: str,
    value: str,
    reason: str,
) -> None:
    # In a process of its own: its stderr is the command's alone (a test's leftover thread
    # logging into this process's captured stderr cannot make it look like two lines).
    env = {**os.environ, name: value}
    proc = subprocess.run(
        [sys.executable, "-m", "flannel_cli.main", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = proc.stderr
    assert proc.returncode == 2, err
    assert err.splitlines() == [err.strip()], err  # one line, no usage, no traceback
    assert err.startswith(f"flannel: {name}={value!r} {reason}"), err


def test_as_a_user_runs_it_no_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLANNEL_")}
    out = subprocess.run(
        [sys.executable, "-m", "flannel_cli.main", "origin"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env={**env, "FLANNEL_PORT": "abc"},
    )
    assert out.returncode == 2
    assert out.stderr.decode() == "flannel: FLANNEL_PORT='abc' is not an integer\n"


def test_a_bad_value_on_the_command_line_keeps_argparses_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refused(capsys, "origin", "--port", "abc")
    assert "usage: flannel origin" in err and "argument --port: invalid int value: 'abc'" in err
    err = refused(capsys, "up", "--rate-limits", "1:x")
    assert "argument --rate-limits: invalid" in err


def test_only_the_command_being_run_reads_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLANNEL_CACHE_MB", "lots")  # an edge flag: the origin has no use for it
    assert parse("origin").port == 8000
    monkeypatch.setenv("FLANNEL_PORT", "abc")  # given on the command line: the variable is moot
    assert parse("origin", "--port", "9000").port == 9000


def test_the_variable_overrides_the_default_and_the_flag_overrides_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert edge.settings_from(parse("edge")).cache_mb == 512.0
    monkeypatch.setenv("FLANNEL_CACHE_MB", "64")
    assert edge.settings_from(parse("edge")).cache_mb == 64.0
    assert edge.settings_from(parse("edge", "--cache-mb", "32")).cache_mb == 32.0

    monkeypatch.setenv("FLANNEL_SPILL_K", "5")  # a flag that had no variable before
    assert router.settings_from(parse("router")).spill_k == 5
    assert router.settings_from(parse("router", "--spill-k", "2")).spill_k == 2

    assert parse("edge").deflate is False
    monkeypatch.setenv("FLANNEL_DEFLATE", "yes")
    assert parse("edge").deflate is True
    monkeypatch.setenv("FLANNEL_DEFLATE", "0")
    assert parse("edge", "--deflate").deflate is True
    monkeypatch.setenv("FLANNEL_DEFLATE", "")  # empty counts as unset
    assert parse("edge").deflate is False

    monkeypatch.setenv("FLANNEL_LOG_LEVEL", "debug")
    assert (parse("up").log_level, parse("up", "--log-level", "info").log_level) == ("debug", "info")


def test_repeated_flags_replace_the_variable_rather_than_add_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert origin_settings(parse("origin")).database_urls == ["sqlite:///.flannel/flannel.db"]
    monkeypatch.setenv("FLANNEL_DATABASE_URL", "sqlite:///a.db,sqlite:///b.db")
    assert origin_settings(parse("origin")).database_urls == ["sqlite:///a.db", "sqlite:///b.db"]
    given = parse("origin", "--database-url", "sqlite:///c.db", "--database-url", "sqlite:///d.db")
    assert origin_settings(given).database_urls == ["sqlite:///c.db", "sqlite:///d.db"]


def test_a_required_flag_may_come_from_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, "admin", "issue-token", "--user", "U1")
    assert "the following arguments are required: --team" in err
    monkeypatch.setenv("FLANNEL_TEAM", "T1")
    args = parse("admin", "issue-token", "--user", "U1")
    assert (args.team, args.user) == ("T1", "U1")
    assert parse("admin", "issue-token", "--user", "U1", "--team", "T2").team == "T2"


def test_flannel_up_gives_its_origin_the_rate_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert up.settings_from(parse("up")).rate_limits == DEFAULT_TIERS
    monkeypatch.setenv("FLANNEL_RATE_LIMITS", "1:5,2:60")
    settings = up.settings_from(parse("up", "--data-dir", str(tmp_path)))
    assert settings.rate_limits == {**DEFAULT_TIERS, 1: 5.0, 2: 60.0}
    assert settings.database_urls == [f"sqlite:///{tmp_path}/flannel.db"]
    flagged = up.settings_from(parse("up", "--rate-limits", "3:7"))
    assert flagged.rate_limits == {**DEFAULT_TIERS, 3: 7.0}
    monkeypatch.setenv("FLANNEL_DATABASE_URL", "sqlite:///elsewhere.db")  # not the data dir's
    assert up.settings_from(parse("up")).database_urls == ["sqlite:///elsewhere.db"]


def test_the_origin_takes_the_same_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLANNEL_RATE_LIMITS", "4:1")
    assert origin_settings(parse("origin")).rate_limits == {**DEFAULT_TIERS, 4: 1.0}


def test_every_flag_of_every_command_has_its_variable() -> None:
    names = {name for name, _ in parsers()}
    assert {"origin", "edge", "router", "seed", "up", "admin create-user"} <= names
    for name, parser in parsers():
        assert isinstance(parser, FlagParser)
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                flag = parser.flag(action)
                assert flag is not None, (name, action.option_strings)
                assert flag.env.startswith("FLANNEL_") and flag.env in (action.help or "")


def test_existing_variable_names_are_kept() -> None:
    envs = {
        (name, p.flag(a).env)
        for name, p in parsers()
        if isinstance(p, FlagParser)
        for a in p._actions
        if p.flag(a)
    }
    for pair in [
        ("edge", "FLANNEL_WRITE_STALL_S"),
        ("edge", "FLANNEL_EDGE_CAPACITY"),
        ("edge", "FLANNEL_HEARTBEAT"),
        ("router", "FLANNEL_ROUTER_C"),
        ("router", "FLANNEL_ROUTER_LOAD_FLOOR"),
        ("router", "FLANNEL_CONNECTS_PER_TOKEN"),
        ("router", "FLANNEL_CALLS_PER_ADDRESS"),
        ("origin", "FLANNEL_LOG_MAX_EVENTS"),
        ("up", "FLANNEL_DATA_DIR"),
        ("up", "FLANNEL_RATE_LIMITS"),
    ]:
        assert pair in envs


def test_add_flag_derives_the_name_and_needs_a_flag_parser() -> None:
    parser = FlagParser(prog="flannel")
    action = add_flag(parser, "--max-things", type=int, default=3, help="how many")
    spec = parser.flag(action)
    assert spec is not None and spec.env == "FLANNEL_MAX_THINGS"
    assert action.help == "how many (env FLANNEL_MAX_THINGS; default 3)"
    with pytest.raises(TypeError):
        add_flag(argparse.ArgumentParser(), "--port", type=int)
