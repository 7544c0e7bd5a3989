"""Services log one JSON object a line, with request ids, and never a token."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from flannel_cli.logs import AccessLog, JsonFormatter, Redact, redact, request_id
from flannel_cli.options import DEFAULT_SECRET, insecure_secret
from origin.store.shards import Store
from tests.conftest import ROOT, ServerProcess, free_port
from tests.factories import make_team


async def test_origin_logs_are_json_with_request_ids_and_no_tokens(
    start_server: type[ServerProcess], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/logs.db"
    store = await Store.open([url])
    team = await make_team(store)
    await store.close()
    server = start_server(["origin", "--log-level", "info", "--database-url", url], free_port()).start()
    token = team.alice.token
    async with httpx.AsyncClient(base_url=server.url + "/api/") as http:
        await http.post("auth.test", headers={"Authorization": f"Bearer {token}"})
        await http.get("conversations.info", params={"token": token, "channel": team.general})
        await http.post("no.such.method", data={"token": token})
    server.stop()
    text = server.log.read_text()
    assert token not in text and token.split("-")[-1] not in text
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "flannel.origin.access"]
    paths = [line["msg"] for line in access]
    assert "POST /api/auth.test" in paths and "GET /api/conversations.info" in paths
    assert all(line["service"] == "origin" and len(line["request_id"]) == 12 for line in access)
    assert len({line["request_id"] for line in access}) == len(access)
    assert {line["status"] for line in access} == {200}  # Slack errors are HTTP 200


def test_redact_removes_tickets_tokens_and_bearer_credentials() -> None:
    line = 'GET /rtm?ticket=eyJ.abc.def&resume_from=3 token=xoxp-1-2 "Bearer xoxb-9" code=42&x=1'
    clean = redact(line)
    assert "eyJ" not in clean and "xoxp" not in clean and "xoxb" not in clean and "42" not in clean
    assert "resume_from=3" in clean and clean.count("[redacted]") == 4


def test_uvicorn_lines_pass_through_the_filter() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" [accepted]',
        ("1.2.3.4", "/rtm?ticket=x.y.z"),
        None,
    )
    assert Redact().filter(record) is True
    assert record.getMessage() == '1.2.3.4 - "WebSocket /rtm?ticket=[redacted]" [accepted]'


def test_secret_guard_refuses_known_secrets_off_loopback() -> None:
    assert insecure_secret("127.0.0.1", DEFAULT_SECRET) is None
    assert insecure_secret("localhost", "change-me-in-production") is None
    refused = insecure_secret("0.0.0.0", "change-me-in-production")
    assert refused is not None and "FLANNEL_SECRET" in refused
    assert insecure_secret("0.0.0.0", "a-long-random-secret-of-our-own") is None


def test_a_service_on_a_public_address_with_the_default_secret_does_not_start() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLANNEL_SECRET"}
    for command in (["origin"], ["router", "--origin-url", "http://127.0.0.1:1"], ["edge"]):
        out = subprocess.run(
            [sys.executable, "-m", "flannel_cli.main", *command, "--host", "0.0.0.0"],
            capture_output=True,
            timeout=60,
            env=env,
            cwd=ROOT,
        )
        assert out.returncode == 2 and b"FLANNEL_SECRET" in out.stderr, (command, out.stderr)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("edge"))
        self.addFilter(Redact())
        self.lines: Lines = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


Lines = list[dict[str, object]]


async def _serve_one(level: int, path: str = "/api/users.info") -> tuple[Lines, list[object]]:
    """One request through AccessLog with the access logger at ``level``: the lines written
    and the request id the app saw while serving."""
    seen: list[object] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(request_id.get())
        logging.getLogger("flannel.edge").warning("inside")
        await send({"type": "http.response.start", "status": 429, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def send(message: object) -> None:
        pass

    handler, access = _Lines(), logging.getLogger("flannel.edge.access")
    edge_log = logging.getLogger("flannel.edge")
    old = access.level
    access.setLevel(level)
    edge_log.addHandler(handler)  # the access logger's lines propagate to it
    try:
        await AccessLog(app, "edge")({"type": "http", "method": "GET", "path": path}, None, send)
    finally:
        edge_log.removeHandler(handler)
        access.setLevel(old)
    return handler.lines, seen


async def test_the_access_line_carries_status_duration_and_the_request_id() -> None:
    lines, seen = await _serve_one(logging.INFO)
    inside, line = lines
    assert line["logger"] == "flannel.edge.access" and line["msg"] == "GET /api/users.info"
    assert line["status"] == 429 and isinstance(line["ms"], float) and line["ms"] >= 0
    rid = line["request_id"]
    assert isinstance(rid, str) and len(rid) == 12 and inside["request_id"] == rid
    assert request_id.get() is None and isinstance(seen[0], int)  # formatted only when written


async def test_with_the_access_level_off_only_the_id_is_kept() -> None:
    lines, seen = await _serve_one(logging.WARNING)
    assert [line["msg"] for line in lines] == ["inside"]  # no access line
    rid = lines[0]["request_id"]
    assert isinstance(rid, str) and len(rid) == 12 and seen[0] is not None
    again, _ = await _serve_one(logging.WARNING)
    assert again[0]["request_id"] != rid


async def test_a_credential_in_the_path_is_redacted_in_the_access_line() -> None:
    lines, _ = await _serve_one(logging.INFO, "/api/xoxp-1-2-3")
    assert "xoxp" not in str(lines) and lines[-1]["msg"] == "GET /api/[redacted]"
