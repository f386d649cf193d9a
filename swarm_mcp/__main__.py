"""`swarm-mcp` / `python -m swarm_mcp`: the command line. The only code that reads the environment.

    swarm-mcp serve [--stdio] [--tcp [HOST:]PORT]   serve MCP (stdio by default; attaches to the data dir's owner)
    swarm-mcp serve --daemon [--tcp [HOST:]PORT]    start a detached owner of the data dir
    swarm-mcp status [--json]                       the data dir's owner: pid, version, sessions, transports
    swarm-mcp stop                                  stop the data dir's owner gracefully (as SIGTERM)
    swarm-mcp claude [--attach URL] [CLAUDE ARGS]   launch Claude Code with swarm-mcp attached
    swarm-mcp worker --attach URL [--token-file F]  claim a daemon's subtasks and do them with Claude Code
    swarm-mcp dashboard [--url URL] [--no-browser]  open the live swarm dashboard of the running daemon
    swarm-mcp config [--json]                       the effective configuration and its sources
    swarm-mcp version                               versions of swarm-mcp and what it runs on
    swarm-mcp bench [transports|memory|neural|cascade|swarm|dashboard|all]  run the benchmarks (from a source checkout)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import DEFAULT_TCP, LOG_LEVELS, Config, load_config
from .errors import SwarmError

if TYPE_CHECKING:  # the attach path must not import these
    import socket

    from .datadir import DataDirLock
    from .lifecycle import OwnerRole

__all__ = ("main",)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """Subcommand parser that never abbreviates long options (`claude --print` must reach claude)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (env SWARM_MCP_HOME; default $XDG_DATA_HOME/swarm-mcp)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="lowest level logged (env SWARM_MCP_LOG_LEVEL; default info)")
    parser.add_argument("--log-file", metavar="FILE", help="write JSON logs here instead of stderr")
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="any setting shown by `swarm-mcp config`, e.g. --set memory_flush_ms=20 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swarm-mcp", description="A swarm-coordination MCP server.", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser("serve", help="serve MCP over stdio and/or TCP", description="Serve MCP. With no transport flag, serves stdio.")
    serve.add_argument("--stdio", action="store_true", help="serve stdin/stdout (the default when --tcp is absent)")
    serve.add_argument(
        "--tcp",
        nargs="?",
        const=DEFAULT_TCP,
        metavar="[HOST:]PORT",
        help=f"serve Streamable HTTP at /mcp and JSON-RPC lines on one port (default {DEFAULT_TCP})",
    )
    serve.add_argument("--token-file", metavar="FILE", help="bearer token for HTTP clients (or env SWARM_MCP_TOKEN)")
    serve.add_argument("--max-line-bytes", type=int, metavar="N", help="largest JSON-RPC line accepted (default 4 MiB)")
    serve.add_argument("--tools", metavar="AREAS", help="serve only these tool areas, comma-separated "
                       "(features, memory, neural, swarm, tasks, daa, benchmark)")
    serve.add_argument("--daemon", action="store_true", help="start a detached owner of the data dir (its socket, and "
                       "--tcp if given) and return once it serves; it stops after daemon_idle_timeout with no client")
    serve.add_argument("--idle-exit", action="store_true", help="stop after daemon_idle_timeout with no client and no "
                       "running work (a detached owner always does)")
    serve.add_argument("--inherit-fds", help=argparse.SUPPRESS)  # LOCK,SOCKET,READY: a detached owner's inheritance
    _common(serve)

    status = commands.add_parser("status", help="show the data dir's owner: pid, version, uptime, sessions, transports")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _common(status)

    stop = commands.add_parser("stop", help="stop the data dir's owner gracefully (as SIGTERM) and wait for it to exit")
    stop.add_argument("--timeout", type=float, default=90.0, metavar="SECONDS", help="how long to wait for it (default 90)")
    _common(stop)

    claude = commands.add_parser(
        "claude",
        help="launch Claude Code with swarm-mcp attached",
        description="Find the Claude Code binary and run it with this swarm-mcp as an MCP server "
        "(stdio by default; --attach URL for a running TCP daemon). Other arguments go to claude.",
    )
    claude.add_argument("--attach", metavar="URL", help="use a running daemon's Streamable HTTP URL instead of stdio")
    claude.add_argument("--print-config", action="store_true", help="print the MCP config that would be used and exit")
    claude.add_argument("--show-token", action="store_true", help="with --print-config: print the bearer token instead of masking it")
    _common(claude)

    worker = commands.add_parser(
        "worker",
        help="claim a daemon's subtasks over HTTP and do them with Claude Code here",
        description="Claim subtasks from a swarm-mcp daemon (serve --tcp) over authenticated Streamable HTTP and do "
        "each with a headless Claude Code process on this machine, attached to the same daemon. SIGINT/SIGTERM stop it; "
        "subtasks still running are given back with the reason.",
    )
    worker.add_argument("--attach", metavar="URL", required=True, help="the daemon's MCP endpoint, e.g. http://HOST:8765/mcp")
    worker.add_argument("--token-file", metavar="FILE", help="the daemon's bearer token (or env SWARM_MCP_TOKEN)")
    worker.add_argument("--concurrency", type=int, metavar="N", help="subtasks done at once (default: claude_workers, 2)")
    worker.add_argument("--swarm-id", metavar="ID", help="only this swarm's subtasks")
    worker.add_argument("--capabilities", metavar="A,B", help="only subtasks that need nothing beyond these")
    _common(worker)

    dashboard = commands.add_parser(
        "dashboard",
        help="open the running daemon's live dashboard in the default browser",
        description="Open the dashboard of the daemon that owns the data dir (serve --tcp), signed in when it has a "
        "token, and print its URL and how to sign in elsewhere.",
    )
    dashboard.add_argument("--url", metavar="URL", help="the daemon's address, e.g. http://127.0.0.1:8765 (default: from the data dir's lock file)")
    dashboard.add_argument("--no-browser", action="store_true", help="only print the URL and how to sign in")
    dashboard.add_argument("--show-token", action="store_true", help="print the sign-in link with the token in it")
    dashboard.add_argument("--token-file", metavar="FILE", help="the daemon's bearer token (or env SWARM_MCP_TOKEN)")
    _common(dashboard)

    config = commands.add_parser("config", help="show the effective configuration and where each value came from")
    config.add_argument("--json", action="store_true", help="machine-readable output")
    _common(config)

    commands.add_parser("version", help="show versions")

    bench = commands.add_parser("bench", help="run benchmarks (needs a source checkout)")
    suites = ("transports", "memory", "neural", "cascade", "swarm", "dashboard", "all")
    bench.add_argument("suite", nargs="?", default="transports", choices=suites)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for item in getattr(args, "set", []) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SwarmError(f"--set {item!r}: write KEY=VALUE, e.g. --set memory_flush_ms=20")
        flags[key.strip().replace("-", "_")] = value
    for name in ("data_dir", "log_level", "log_file", "token_file", "max_line_bytes", "tools"):
        value = getattr(args, name, None)
        if value is not None:
            flags[name] = value
    if getattr(args, "tcp", None) is not None:
        flags["tcp"] = args.tcp
    return flags


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"swarm-mcp: error: {message}\n")
    return code


def _daemon_args(args: argparse.Namespace) -> list[str]:
    """The flags a detached owner started for this command gets (data dir and log file are added
    by the starter; `--tools` stays with each session, which asks its owner for its own)."""
    argv: list[str] = []
    for item in getattr(args, "set", []) or []:
        argv += ["--set", item]
    for flag in ("log_level", "token_file", "max_line_bytes"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += ["--" + flag.replace("_", "-"), str(value)]
    if getattr(args, "daemon", False) and args.tcp is not None:
        argv += ["--tcp", args.tcp]
    return argv


def _serve(args: argparse.Namespace, config: Config, version: str) -> int:
    """`serve`: own the data dir in this process, or attach this stdio session to its owner."""
    from .datadir import DataDirLock, ensure_data_dir
    from .local_socket import socket_path_fits

    if args.daemon:
        return _start_daemon(args, config)
    stdio = args.stdio or config.tcp is None
    lock = None
    if stdio and config.tcp is None and config.attach and config.unix_socket and socket_path_fits(config.socket_path):
        try:
            ensure_data_dir(config.data_dir)
            lock = DataDirLock(config.lock_path)
            owned = lock.try_acquire()
        except SwarmError as exc:
            return _fail(str(exc), EXIT_USAGE)
        if not owned:
            return _attach(args, config, version)
    from .logs import configure_logging

    configure_logging(config.log_level, config.log_file)
    from .lifecycle import OwnerRole

    idle = (config.daemon_idle_timeout or None) if args.idle_exit else None
    role = OwnerRole("stdio" if stdio else "server", idle_timeout=idle)
    error = _run_owner(config, stdio=stdio, role=role, lock=lock, version=version)
    return EXIT_OK if error is None else _fail(str(error), _exit_code(error))


def _run_owner(config: Config, *, stdio: bool, role: OwnerRole, version: str, lock: DataDirLock | None = None,
               listener: socket.socket | None = None, on_ready: Callable[[], None] | None = None) -> SwarmError | None:
    """Own the data dir in this process until stopped; the error the user can act on, if it failed."""
    import anyio

    from .daemon import StopSignals, run_daemon

    signals = StopSignals()
    signals.install()  # before the loop starts, and kept until the process exits
    try:
        anyio.run(lambda: run_daemon(config, stdio=stdio, tcp=config.tcp, signals=signals, role=role, lock=lock,
                                     listener=listener, version=version, on_ready=on_ready))
    except BaseException as exc:  # task groups wrap errors; find the one the user can act on
        error = _first_swarm_error(exc)
        if error is None:
            raise
        return error
    finally:
        signals.block()  # state is flushed: a late signal must not kill the exiting interpreter
    return None


def _exit_code(error: SwarmError) -> int:
    from .datadir import DataDirBusy

    return EXIT_BUSY if isinstance(error, DataDirBusy) else EXIT_USAGE


def _attach(args: argparse.Namespace, config: Config, version: str) -> int:
    """This stdio session is served by the data dir's owner, through a relay (no daemon imports here)."""
    from .attach import AttachFailed, serve_attached
    from .datadir import DataDirBusy

    try:
        return serve_attached(config, version=version, daemon_args=_daemon_args(args))
    except AttachFailed as exc:
        return _fail(str(exc), exc.exit_code)
    except DataDirBusy as exc:
        return _fail(str(exc), EXIT_BUSY)
    except SwarmError as exc:
        return _fail(str(exc), EXIT_USAGE)


def _start_daemon(args: argparse.Namespace, config: Config) -> int:
    """`serve --daemon` from a shell: start a detached owner, say where it serves, and return."""
    from .attach import AttachFailed, start_daemon
    from .datadir import ensure_data_dir, read_lock_owner

    if not config.unix_socket and config.tcp is None:
        return _fail("a daemon serves the data dir's socket or TCP; unix_socket is false, so give --tcp", EXIT_USAGE)
    try:
        ensure_data_dir(config.data_dir)
        pid = start_daemon(config, daemon_args=_daemon_args(args))
    except AttachFailed as exc:
        return _fail(str(exc), exc.exit_code)
    except SwarmError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if pid is None:
        owner = read_lock_owner(config.lock_path)
        if config.tcp is not None and not owner.get("tcp_url"):
            from .datadir import busy_error

            return _fail(str(busy_error(config.lock_path)), EXIT_BUSY)
        sys.stderr.write(f"swarm-mcp: {config.data_dir} is already served by pid {owner.get('pid', 'unknown')}\n")
        return EXIT_OK
    owner = read_lock_owner(config.lock_path)
    where = ", ".join(str(v) for v in (owner.get("socket"), owner.get("tcp_url")) if v)
    sys.stderr.write(f"swarm-mcp: pid {pid} serves {config.data_dir} ({where}); `swarm-mcp stop` stops it\n")
    return EXIT_OK


def _serve_detached(args: argparse.Namespace, config: Config, version: str) -> int:
    """The detached owner itself: it inherited the lock, the bound socket and a pipe to say it is ready on."""
    import socket

    import orjson

    from .datadir import DataDirLock
    from .lifecycle import OwnerRole

    lock_fd, socket_fd, ready_fd = (int(part) for part in args.inherit_fds.split(","))
    for fd in (lock_fd, socket_fd, ready_fd):
        if fd >= 0:
            os.set_inheritable(fd, False)  # nothing this daemon starts (Claude workers) may hold them

    def report(message: dict[str, Any]) -> None:
        try:
            os.write(ready_fd, orjson.dumps(message) + b"\n")
            os.close(ready_fd)
        except OSError:
            pass  # whoever started us is gone: nobody to tell

    lock = DataDirLock.adopt(config.lock_path, lock_fd)
    listener = socket.socket(fileno=socket_fd) if socket_fd >= 0 else None
    role = OwnerRole("daemon", idle_timeout=config.daemon_idle_timeout or None)
    from .logs import configure_logging

    configure_logging(config.log_level, config.log_file)
    error = _run_owner(config, stdio=False, role=role, version=version, lock=lock, listener=listener,
                       on_ready=lambda: report({"ok": True, "pid": os.getpid()}))
    if error is None:
        return EXIT_OK
    report({"ok": False, "code": _exit_code(error), "message": str(error)})
    return _fail(str(error), _exit_code(error))


def _status(args: argparse.Namespace, config: Config) -> int:
    import orjson

    from .attach import AttachFailed, ask_owner
    from .control import STATUS

    try:
        status = ask_owner(config, STATUS)
    except (AttachFailed, OSError) as exc:
        return _fail(str(exc), EXIT_ERROR)
    if args.json:
        body = {"running": status is not None, "data_dir": str(config.data_dir), **(status or {})}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
    elif status is None:
        sys.stdout.write(f"not running: nothing serves {config.data_dir}\n")
    else:
        sys.stdout.write(_describe_status(status))
    return EXIT_OK if status is not None else EXIT_ERROR


def _seconds(value: float) -> str:
    value = int(value)
    days, rest = divmod(value, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n] + [f"{secs}s"]
    return " ".join(parts[:2])


def _describe_status(status: dict[str, Any]) -> str:
    lines = [f"swarm-mcp {status['version']}, pid {status['pid']} ({status['kind']}), up {_seconds(status['uptime_seconds'])}",
             f"data dir    {status['data_dir']}"]
    transports = status.get("transports", {})
    lines += [f"transport   {name:<13} {t['endpoint']}  ({t['open_connections']} open, {t['total_connections']} so far)"
              for name, t in transports.items()]
    sessions = status.get("attached_sessions", [])
    lines.append(f"attached    {len(sessions)} session(s)")
    for session in sessions:
        client = session.get("client") or {}
        who = f"{client.get('name')} {client.get('version')}" if client else "no initialize yet"
        lines.append(f"  pid {session['pid']}: swarm-mcp {session['version']}, {who}, protocol "
                     f"{session.get('protocol_version') or '-'}, tools {session.get('tools') or 'all'}, "
                     f"attached {_seconds(session['connected_seconds'])}")
    work = status.get("work", {})
    lines.append(f"work        {work.get('running_subtasks', 0)} running subtask(s), {work.get('claude_workers', 0)} Claude worker(s)")
    idle = status.get("idle", {})
    timeout = idle.get("timeout_seconds")
    lines.append("idle stop   " + (f"after {timeout:g} s with no client and no running work" if timeout else "never (stopped by its user)")
                 + (f"; busy with {idle['busy_with']}" if idle.get("busy_with") else
                    f"; idle for {idle['idle_seconds']:.0f} s" if idle.get("idle_seconds") is not None else ""))
    return "\n".join(lines) + "\n"


def _stop(args: argparse.Namespace, config: Config) -> int:
    from .attach import AttachFailed, ask_owner, wait_for_exit
    from .control import STOP

    try:
        stopped = ask_owner(config, STOP)
    except (AttachFailed, OSError) as exc:
        return _fail(str(exc), EXIT_ERROR)
    if stopped is None:
        sys.stderr.write(f"swarm-mcp: not running: nothing serves {config.data_dir}\n")
        return EXIT_ERROR
    pid = int(stopped["pid"])
    if not wait_for_exit(pid, args.timeout):
        return _fail(f"pid {pid} is still stopping after {args.timeout:g} s", EXIT_ERROR)
    attached = int(stopped.get("attached_sessions") or 0)
    sys.stderr.write(f"swarm-mcp: stopped pid {pid}"
                     + (f"; its {attached} attached session(s) start a new owner" if attached else "") + "\n")
    return EXIT_OK


def _first_swarm_error(exc: BaseException) -> SwarmError | None:
    if isinstance(exc, SwarmError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_swarm_error(inner)
            if found is not None:
                return found
    return None


def _config(args: argparse.Namespace, config: Config) -> int:
    rows = config.describe()
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps([{"name": n, "value": v, "source": s} for n, v, s in rows]).decode() + "\n")
        return EXIT_OK
    width = max(len(n) for n, _, _ in rows)
    value_width = min(max(len(v) for _, v, _ in rows), 48)
    for name, value, source in rows:
        sys.stdout.write(f"{name:<{width}}  {value:<{value_width}}  {source}\n")
    return EXIT_OK


def _version() -> int:
    import importlib.metadata
    import platform

    parts = [f"swarm-mcp {__version__}", f"python {platform.python_version()}"]
    for dist in ("mcp", "jax"):
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist} not installed")
    sys.stdout.write(", ".join(parts) + "\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # whatever we create (database, exports, networks, logs, socket) is private to this user
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command != "claude" and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "version":
        return _version()
    if args.command == "bench":
        from .bench_runner import run_bench

        return run_bench(args.suite, args.bench_args)
    try:
        config = load_config(_flags(args), os.environ)
    except SwarmError as exc:
        return _fail(str(exc), EXIT_USAGE)
    version = os.environ.get("SWARM_MCP_REPORT_VERSION") or __version__  # tests simulate other versions
    if args.command == "serve":  # configures logging itself: an attached session never imports structlog
        if args.inherit_fds:
            return _serve_detached(args, config, version)
        return _serve(args, config, version)
    if args.command == "status":
        return _status(args, config)
    if args.command == "stop":
        return _stop(args, config)
    from .logs import configure_logging

    configure_logging(config.log_level, config.log_file)
    if args.command == "config":
        return _config(args, config)
    if args.command == "worker":
        from .remote import worker_main

        return worker_main(config, os.environ, attach=args.attach, concurrency=args.concurrency,
                           swarm_id=args.swarm_id, capabilities=args.capabilities)
    if args.command == "dashboard":
        from .dashboard import open_dashboard

        try:
            return open_dashboard(config, url=args.url, browser=not args.no_browser, show_token=args.show_token,
                                  out=sys.stdout)
        except SwarmError as exc:
            return _fail(str(exc), EXIT_ERROR)
    if args.command == "claude":
        from .claude import launch_claude

        try:
            return launch_claude(
                config, attach=args.attach, claude_args=extra, print_config=args.print_config, show_token=args.show_token
            )
        except SwarmError as exc:
            return _fail(str(exc), EXIT_ERROR)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
