"""`swarm-mcp claude`: run the Claude Code binary with this swarm-mcp attached.

Finds the binary, writes an MCP config derived from `scripts/claude_config.json` with this
install's absolute paths (stdio by default; `--attach URL` for a running TCP daemon), and execs
`claude --mcp-config FILE --strict-mcp-config ARGS...`. The binary comes only from places the user
set up (`$CLAUDE_BIN`, `PATH`, the installer's folders), never from the current directory, and
which one runs is printed. The config file is written private (0600) and never through a symlink;
`--print-config` masks the bearer token unless `--show-token` is given.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from .config import Config
from .errors import NotFound
from .files import write_privately
from .paths import ensure_private_dir

__all__ = ("TEMPLATE", "claude_candidates", "find_claude", "launch_claude", "mcp_config")

TEMPLATE = Path(__file__).resolve().parent.parent / "scripts" / "claude_config.json"
_FALLBACK_TEMPLATE: dict[str, Any] = {
    "mcpServers": {
        "swarm": {"type": "stdio", "command": "swarm-mcp", "args": ["serve"], "env": {}, "alwaysLoad": True},
        "swarm-http": {"type": "http", "url": "http://127.0.0.1:8765/mcp", "alwaysLoad": True},
    }
}
INSTALL_HINT = (
    "Install Claude Code with `npm install -g @anthropic-ai/claude-code` (or see https://docs.claude.com/claude-code), "
    "or point CLAUDE_BIN at the binary."
)


def claude_candidates(environ: Mapping[str, str]) -> list[tuple[str, Path | None]]:
    """Where to look, in order: $CLAUDE_BIN, PATH, ~/.local/bin, /usr/local/bin. Not the current
    directory: a binary from wherever the user happens to stand is not one they chose."""
    home = Path(environ.get("HOME", str(Path.home())))
    on_path = shutil.which("claude", path=environ.get("PATH"))
    if on_path is not None and not os.path.isabs(on_path):
        on_path = None  # a relative PATH entry is the current directory again
    return [
        ("$CLAUDE_BIN", Path(environ["CLAUDE_BIN"]) if environ.get("CLAUDE_BIN") else None),
        ("PATH", Path(on_path) if on_path else None),
        ("~/.local/bin/claude", home / ".local" / "bin" / "claude"),
        ("/usr/local/bin/claude", Path("/usr/local/bin/claude")),
    ]


def find_claude(environ: Mapping[str, str]) -> tuple[Path, str]:
    """The first executable candidate and where it was found.

    Raises:
        NotFound: none exists; the message lists every place searched and how to install.
    """
    searched = []
    for label, path in claude_candidates(environ):
        if path is not None and path.is_file() and os.access(path, os.X_OK):
            return path, label
        searched.append(f"{label} ({path})" if path is not None else f"{label} (not set)")
    raise NotFound("Claude Code binary not found. Looked in: " + "; ".join(searched) + ". " + INSTALL_HINT)


def _template() -> dict[str, Any]:
    if TEMPLATE.is_file():
        return orjson.loads(TEMPLATE.read_bytes())
    return _FALLBACK_TEMPLATE


def mcp_config(config: Config, *, attach: str | None, show_token: bool = True) -> dict[str, Any]:
    """The `--mcp-config` document: the template's stdio entry with absolute paths, or its HTTP
    entry (with the bearer token, masked as `<set, N characters>` unless `show_token`)."""
    servers = _template()["mcpServers"]
    if attach is not None:
        entry = dict(servers["swarm-http"], url=attach)
        token = config.resolved_token
        if token is not None:
            shown = token if show_token else f"<set, {len(token)} characters; --show-token prints it>"
            entry["headers"] = {"Authorization": f"Bearer {shown}"}
        return {"mcpServers": {"swarm-http": entry}}
    entry = dict(servers["swarm"])
    args = ["-m", "swarm_mcp", "serve", "--data-dir", str(config.data_dir)]
    if config.log_level != "info":
        args += ["--log-level", config.log_level]
    if config.log_file is not None:
        args += ["--log-file", str(config.log_file)]
    entry.update(command=sys.executable, args=args)
    return {"mcpServers": {"swarm": entry}}


def launch_claude(
    config: Config, *, attach: str | None, claude_args: Sequence[str], print_config: bool, show_token: bool = False
) -> int:
    """Write the config to the data dir and exec Claude Code; returns only when printing the config.

    Raises:
        NotFound: no Claude Code binary.
        Unavailable: the config file cannot be written.
    """
    if print_config:
        document = mcp_config(config, attach=attach, show_token=show_token)
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    binary, found_via = find_claude(os.environ)
    ensure_private_dir(config.data_dir)
    path = config.data_dir / "claude-mcp.json"
    write_privately(path, orjson.dumps(mcp_config(config, attach=attach), option=orjson.OPT_INDENT_2))
    sys.stderr.write(f"swarm-mcp: running Claude Code {binary} (found via {found_via}) with {path}\n")
    sys.stderr.flush()
    args = list(claude_args)
    if args[:1] == ["--"]:
        args = args[1:]
    os.execv(binary, [str(binary), "--mcp-config", str(path), "--strict-mcp-config", *args])
    return 0  # pragma: no cover - execv does not return
