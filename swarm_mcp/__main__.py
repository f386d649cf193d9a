"""`swarm-mcp` / `python -m swarm_mcp`: the command line. The only code that reads the environment.

    swarm-mcp serve [--stdio] [--tcp [HOST:]PORT]   serve MCP (stdio by default)
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
from collections.abc import Sequence
from typing import Any

from . import __version__
from .config import DEFAULT_TCP, LOG_LEVELS, Config, load_config
from .errors import SwarmError

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
    _common(serve)

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


def _serve(args: argparse.Namespace, config: Config) -> int:
    import anyio

    from .daemon import StopSignals, run_daemon
    from .datadir import DataDirBusy

    tcp = config.tcp
    stdio = args.stdio or tcp is None
    signals = StopSignals()
    signals.install()  # before the loop starts, and kept until the process exits
    try:
        anyio.run(lambda: run_daemon(config, stdio=stdio, tcp=tcp, signals=signals))
    except BaseException as exc:  # task groups wrap errors; find the one the user can act on
        error = _first_swarm_error(exc)
        if error is None:
            raise
        return _fail(str(error), EXIT_BUSY if isinstance(error, DataDirBusy) else EXIT_USAGE)
    finally:
        signals.block()  # state is flushed: a late signal must not kill the exiting interpreter
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
    from .logs import configure_logging

    configure_logging(config.log_level, config.log_file)
    if args.command == "serve":
        return _serve(args, config)
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
