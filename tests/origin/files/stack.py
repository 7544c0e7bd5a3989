"""A real stack with files: origin (local file store, or S3), one edge, the router, with the
router's URL as the base of upload and download links, as ``flannel up`` sets it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import Team, make_team

#: Files over this are refused (0.5 MB), so the over-limit case is cheap.
MAX_MB = 0.5


@dataclass
class FilesStack:
    team: Team
    store: Store
    origin: ServerProcess
    edge: ServerProcess
    router: ServerProcess
    blobs: Path

    @property
    def api(self) -> str:
        return self.router.url + "/api/"


async def start_stack(
    start_server: type[ServerProcess],
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    file_store: str | None = None,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> FilesStack:
    urls = [f"sqlite:///{tmp_path}/files.db"]
    store = await Store.open(urls)
    team = await make_team(store)
    blobs = tmp_path / "blobs"
    shared = ["--log-level", "warning", "--redis-url", redis_url, "--redis-prefix", redis_prefix]
    router_port = free_port()
    router_url = f"http://127.0.0.1:{router_port}"
    origin = start_server(
        [
            "origin",
            *shared,
            "--database-url",
            urls[0],
            "--file-store",
            file_store or f"file://{blobs}",
            "--files-url",
            router_url,
            "--file-max-mb",
            str(MAX_MB),
            *extra,
        ],
        free_port(),
        env,
    ).start()
    edge_port = free_port()
    edge = start_server(
        [
            "edge",
            *shared,
            "--origin-url",
            origin.url,
            "--edge-id",
            f"edge-{edge_port}",
            "--drain-window",
            "1",
        ],
        edge_port,
    ).start()
    router = start_server(
        ["router", *shared, "--origin-url", origin.url, "--default-region", "local"], router_port
    ).start()
    return FilesStack(team, store, origin, edge, router, blobs)
