"""Helpers shared by tests: real server subprocesses, ports, and an in-process app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import orjson

from swarm_mcp.app import App, open_app
from swarm_mcp.client import LineClient
from swarm_mcp.config import Config, load_config
from swarm_mcp.tools import ToolRegistry, build_registry

REPO_ROOT = Path(__file__).resolve().parent.parent
FANN_DATA = REPO_ROOT / "tests" / "data" / "fann"  # FANN's data sets (LGPL, see tests/data/README.md)
FANN_GOLDEN = REPO_ROOT / "tests" / "data" / "fann-golden"  # C FANN 2.2.0 reference outputs
SERVE = [sys.executable, "-m", "swarm_mcp", "serve"]


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this run is CI (`CI` set to anything but empty, 0 or false; `.ci/run` sets CI=1)."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false")


def requirement_missing(reason: str) -> None:
    """A test's requirement is absent: a failure under CI (which promises to provide it), a skip elsewhere."""
    import pytest

    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def server_env(home: Path | str, **extra: str) -> dict[str, str]:
    """Environment for a server subprocess: this checkout first on the path, its own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARM_MCP_")}
    env.update(SWARM_MCP_HOME=str(home), PYTHONPATH=str(REPO_ROOT), **extra)
    return env


def config_for(home: Path, **settings: Any) -> Config:
    return load_config({"data_dir": str(home), **settings}, {})


@asynccontextmanager
async def running_app(
    home: Path, *, clock: Callable[[], float] = time.time, **settings: Any
) -> AsyncIterator[tuple[App, ToolRegistry]]:
    """A real daemon App on a temporary data dir, and the daemon's tool registry."""
    async with open_app(config_for(home, **settings), clock=clock) as app:
        yield app, build_registry(app)


async def call(client: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool call through an MCP client that must succeed: its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, (tool, arguments, result.content[0].text)
    return result.structured_content


async def error_text(client: Any, tool: str, **arguments: Any) -> str:
    """A tool call through an MCP client that must fail: its error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


@asynccontextmanager
async def mcp_client(home: Path, **kwargs: Any) -> AsyncIterator[tuple[Any, App]]:
    """The MCP SDK's in-memory client connected to a real daemon App (tools go through MCP)."""
    from mcp import Client

    from swarm_mcp.sdk_server import build_sdk_server

    async with running_app(home, **kwargs) as (app, registry):
        async with Client(build_sdk_server(app, registry, transport="memory")) as client:
            yield client, app


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spawn_stdio(home: Path, *args: str, **env: str) -> LineClient:
    """A real `swarm-mcp serve` on stdio; its stderr is appended to `home/server.stderr`
    (a pipe nobody drains would block the server once full): read it with `server_output`."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.stderr", "ab") as err:
        return LineClient.spawn([*SERVE, *args], env=server_env(home, **env), stderr=err, cwd=str(REPO_ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], home: Path, host: str = "127.0.0.1", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = (home / "server.stderr").read_text(errors="replace")
            raise RuntimeError(f"server exited with {process.returncode}: {stderr}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout} s")


@contextmanager
def tcp_server(home: Path, *args: str, host: str = "127.0.0.1", **env: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A real `swarm-mcp serve --tcp` subprocess; yields (port, process), stops it with SIGTERM.

    Its stdout and stderr go to `home/server.stdout` and `home/server.stderr` (a pipe nobody
    drains would block the server once it fills); read them with `server_output`.
    """
    port = free_port()
    with open(home / "server.stdout", "wb") as out, open(home / "server.stderr", "wb") as err:
        process = subprocess.Popen(
            [*SERVE, "--tcp", f"{host}:{port}", *args],
            env=server_env(home, **env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=str(REPO_ROOT),
        )
    try:
        wait_for_port(port, process, home, host="127.0.0.1" if host in ("0.0.0.0", "") else host)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_output(home: Path) -> tuple[bytes, bytes]:
    """(stdout, stderr) of the servers that ran in `home` (stdout only for `tcp_server`)."""
    stdout = home / "server.stdout"
    return (stdout.read_bytes() if stdout.exists() else b""), (home / "server.stderr").read_bytes()


def log_events(stderr_bytes: bytes) -> list[dict[str, Any]]:
    """The JSON log lines a server wrote to stderr."""
    return [orjson.loads(line) for line in stderr_bytes.splitlines() if line.startswith(b"{")]


def modern_request(request_id: int, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    from swarm_mcp.client import modern_meta

    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": modern_meta()}}


class _RecordingSink:
    """A LineSink that keeps what the server wrote, line by line."""

    def __init__(self) -> None:
        import anyio

        self.send, self.lines = anyio.create_memory_object_stream[bytes](10_000)
        self.closed = anyio.Event()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        for line in data.splitlines():
            self.written.append(line)
            self.send.send_nowait(line)

    async def drain(self) -> None:
        return None

    def is_closing(self) -> bool:
        return self.closed.is_set()

    async def wait_closed(self) -> None:
        await self.closed.wait()


class LineHarness:
    """Drive `serve_line_connection` in-process: feed lines, read replies, end with EOF or a stop.

    Use as `async with LineHarness(session) as h:`; leaving sends EOF and waits for the driver.
    """

    def __init__(self, session: Any, *, max_line_bytes: int = 4 * 2**20, shutdown_grace: float = 0.5, limits: Any = None) -> None:
        import asyncio

        import anyio

        self.session = session
        self.reader = asyncio.StreamReader(limit=max_line_bytes)
        self.sink = _RecordingSink()
        self.stopping = anyio.Event()
        self.max_line_bytes = max_line_bytes
        self.shutdown_grace = shutdown_grace
        self.limits = limits
        self.finished = anyio.Event()
        self.eof_seen = False

    async def __aenter__(self) -> LineHarness:
        import anyio

        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.run)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        import anyio

        if not self.reader.at_eof():
            self.eof()
        with anyio.move_on_after(5):
            await self.finished.wait()
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        self.sink.send.close()
        self.sink.lines.close()

    async def run(self) -> None:
        from swarm_mcp.protocol import LineLimits, serve_line_connection

        try:
            await serve_line_connection(
                self.reader,
                self.sink,
                self.session,
                stopping=self.stopping,
                shutdown_grace=self.shutdown_grace,
                max_line_bytes=self.max_line_bytes,
                on_eof=lambda: setattr(self, "eof_seen", True),
                limits=self.limits or LineLimits(),
            )
        finally:
            self.finished.set()

    def send(self, message: Mapping[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else orjson.dumps(message)
        self.reader.feed_data(data + b"\n")

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        import anyio

        with anyio.fail_after(timeout):
            return orjson.loads(await self.sink.lines.receive())

    def no_more_replies(self) -> bool:
        try:
            line = self.sink.lines.receive_nowait()
        except Exception:
            return True
        raise AssertionError(f"unexpected reply: {line!r}")

    def eof(self) -> None:
        self.reader.feed_eof()
