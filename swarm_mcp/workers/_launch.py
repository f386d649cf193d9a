"""How a Claude Code worker is launched: which binary, with which MCP config, with which flags.

`locate_claude` honours the `claude_bin` setting, else searches like `swarm-mcp claude` does.
`mcp_config_file` writes the per-run `--mcp-config` (this daemon over Streamable HTTP, with its
bearer token as a header) into `<data dir>/claude-runs/`: created 0600 with O_EXCL and
O_NOFOLLOW in a 0700 folder, removed when the run ends; files left by a process that died are
swept at the next start. `claude_argv` is the command line: print mode, JSON output, only our
MCP server, its tools allowed except the claim lifecycle the harness itself reports.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import structlog

from ..errors import NotFound, Unavailable
from ._prompt import HARNESS_TOOLS, SERVER_NAME

__all__ = ("RUNS_DIR", "Endpoint", "claude_argv", "locate_claude", "mcp_config_file", "sweep_run_files")

log = structlog.get_logger("swarm_mcp.workers")

RUNS_DIR = "claude-runs"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a worker reaches the daemon: a Streamable HTTP URL and the bearer token it needs."""

    url: str
    token: str | None = field(default=None, repr=False)  # never in a log line


def locate_claude(explicit: Path | None, environ: Mapping[str, str], cwd: Path) -> Path:
    """The Claude Code binary: `explicit` (the `claude_bin` setting) if given, else the search.

    Raises:
        NotFound: no executable binary; the message lists every place looked at.
    """
    if explicit is not None:
        if explicit.is_file() and os.access(explicit, os.X_OK):
            return explicit
        raise NotFound(f"Claude Code binary not found: claude_bin is {explicit}, which is not an executable file. "
                       "Fix the setting (swarm-mcp config shows where it came from) or unset it to search PATH")
    from ..claude import find_claude  # the launcher's search; imported when a worker first needs it

    return find_claude(environ)[0]  # never from the current directory (`cwd` is no longer searched)


def claude_argv(binary: Path, config_path: Path) -> list[str]:
    """`claude -p` with JSON output, the prompt on stdin, and only this daemon's tools."""
    return [
        str(binary), "-p", "--output-format", "json",
        "--mcp-config", str(config_path), "--strict-mcp-config",
        "--allowedTools", f"mcp__{SERVER_NAME}",
        "--disallowedTools", ",".join(f"mcp__{SERVER_NAME}__{tool}" for tool in HARNESS_TOOLS),
    ]


def _private_dir(data_dir: Path) -> Path:
    folder = data_dir / RUNS_DIR
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError as exc:
        raise Unavailable(f"cannot create {folder} for Claude workers' MCP configs: {exc.strerror}; "
                          "check the data dir (--data-dir) is writable") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise Unavailable(f"{folder} is not a directory owned by this user; remove it so swarm-mcp can recreate it")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return folder


@contextmanager
def mcp_config_file(data_dir: Path, endpoint: Endpoint) -> Iterator[Path]:
    """A private `--mcp-config` file naming `endpoint` as server `swarm`, removed on exit.

    Raises:
        Unavailable: the folder or the file cannot be written.
    """
    entry: dict[str, object] = {"type": "http", "url": endpoint.url, "alwaysLoad": True}
    if endpoint.token is not None:
        entry["headers"] = {"Authorization": f"Bearer {endpoint.token}"}
    document = orjson.dumps({"mcpServers": {SERVER_NAME: entry}})
    path = _private_dir(data_dir) / f"run-{os.getpid()}-{secrets.token_hex(8)}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unavailable(f"cannot write the Claude worker's MCP config {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(document)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_run_files(data_dir: Path) -> int:
    """Remove run configs whose writer is gone (a crash or kill -9 skipped their cleanup)."""
    folder = data_dir / RUNS_DIR
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names[:10_000]:
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "run" or not parts[1].isdigit() or not name.endswith(".json"):
            continue
        if int(parts[1]) != os.getpid() and not _alive(int(parts[1])):
            (folder / name).unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("claude_run_files_swept", removed=removed)
    return removed
