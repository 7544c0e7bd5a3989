"""``flannel notifier``'s flags: SMTP from discrete flags or one URL, the password from the
environment only, partitions, and clear refusals."""

from __future__ import annotations

import pytest

from flannel_cli.main import build_parser, main
from flannel_cli.notifier import owns, smtp_config, state_path


def parse(*argv: str) -> object:
    return build_parser().parse_args(["notifier", *argv])


def test_no_smtp_means_email_off() -> None:
    assert smtp_config(parse()) is None  # type: ignore[arg-type]


def test_discrete_flags_and_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLANNEL_SMTP_PASSWORD", "s3cret")
    c = smtp_config(parse("--smtp-host", "mail.test", "--smtp-security", "starttls", "--smtp-user", "bot"))  # type: ignore[arg-type]
    assert c is not None
    assert (c.host, c.port, c.username, c.password, c.start_tls, c.use_tls) == (
        "mail.test",
        25,
        "bot",
        "s3cret",
        True,
        False,
    )
    tls = smtp_config(parse("--smtp-host", "mail.test", "--smtp-security", "tls"))  # type: ignore[arg-type]
    assert tls is not None and tls.port == 465 and tls.use_tls


def test_the_url_form_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLANNEL_SMTP_URL", "smtps://bot@mail.test:2465")
    monkeypatch.setenv("FLANNEL_SMTP_PASSWORD", "pw")
    c = smtp_config(parse())  # type: ignore[arg-type]
    assert c is not None and (c.host, c.port, c.username, c.password, c.use_tls) == (
        "mail.test",
        2465,
        "bot",
        "pw",
        True,
    )


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--smtp-url", "smtp://a:25", "--smtp-host", "b"], "not both"),
        (["--smtp-user", "bot"], "need --smtp-host"),
        (["--smtp-host", "mail.test", "--smtp-user", "bot"], "FLANNEL_SMTP_PASSWORD"),
        (["--smtp-url", "http://mail.test"], "not an SMTP URL"),
    ],
)
def test_bad_smtp_settings_are_refused_with_why(argv: list[str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        smtp_config(parse(*argv))  # type: ignore[arg-type]


def test_the_command_refuses_without_redis_and_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notifier"]) == 2
    assert "--redis-url is needed" in capsys.readouterr().err
    assert main(["notifier", "--redis-url", "redis://x", "--smtp-user", "u"]) == 2
    assert "need --smtp-host" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--partition", "3/3")


def test_partitions_split_workspaces_stably() -> None:
    teams = [f"T{i:05d}" for i in range(300)]
    owners = [[t for t in teams if owns(t, (k, 3))] for k in range(3)]
    assert sorted(t for o in owners for t in o) == teams  # each workspace has exactly one owner
    assert all(len(o) > 50 for o in owners)
    assert all(owns(t, (0, 1)) for t in teams)
    assert (
        state_path("/s").name == "notifier.json" and state_path("/s", (1, 3)).name == "notifier-1-of-3.json"
    )
