"""The daemon's configuration and where each value came from.

Precedence, highest first: command-line flags > environment (`SWARM_MCP_*`) > `config.toml` in the
data directory > defaults. `Config` is built once in `main()` and passed down; nothing else reads
the environment. `describe()` renders the effective values with their sources for
`swarm-mcp config`; secrets are never rendered.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import InvalidArgument

__all__ = (
    "Config",
    "ConfigError",
    "Source",
    "LOG_LEVELS",
    "default_data_dir",
    "load_config",
    "parse_host_port",
    "is_loopback_host",
)

LOG_LEVELS = ("debug", "info", "warning", "error")
ENV_PREFIX = "SWARM_MCP_"
CONFIG_FILE = "config.toml"
DEFAULT_TCP = "127.0.0.1:8765"

LogLevel = Literal["debug", "info", "warning", "error"]
Synchronous = Literal["OFF", "NORMAL", "FULL"]


class ConfigError(InvalidArgument):
    """A configuration value is invalid; the message names the setting, its source and valid values."""


def _setting(default: Any, help: str, *, env: str | None = None, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "env": env, "secret": secret})


@dataclass(frozen=True, slots=True)
class Config:
    """Effective configuration. Field names double as `config.toml` keys (`[memory] flush_ms = 50`
    is the same as `memory_flush_ms = 50`) and as environment names (`SWARM_MCP_MEMORY_FLUSH_MS`)."""

    data_dir: Path = _setting(None, "Where the database, networks and logs live (created with mode 0700).", env="SWARM_MCP_HOME")
    log_level: LogLevel = _setting("info", "Lowest level written to the log: debug, info, warning or error.")
    log_file: Path | None = _setting(None, "Write logs to this file instead of stderr.")
    tcp: str | None = _setting(None, "Serve TCP on HOST:PORT (Streamable HTTP at /mcp and JSON-RPC lines on one port).")
    tools: str | None = _setting(None, "Serve only these tool areas, comma-separated: features, memory, neural, swarm, tasks, daa, benchmark.")
    token: str | None = _setting(None, "Bearer token required by HTTP clients (required off loopback).", secret=True)
    token_file: Path | None = _setting(None, "Read the bearer token from this file.")
    max_line_bytes: int = _setting(4 * 2**20, "Largest JSON-RPC line accepted on stdio and TCP lines.")
    max_http_body_bytes: int = _setting(4 * 2**20, "Largest HTTP request body accepted at /mcp.")
    shutdown_grace: float = _setting(0.5, "Seconds in-flight requests get to finish when the server stops.")
    allow_external_paths: tuple[Path, ...] = _setting(
        (), "Directories outside the data dir that tool file paths may also name (a list; ':'-separated in env and flags)."
    )
    memory_hot_max_entries: int = _setting(100_000, "Most entries kept in the in-memory hot tier.")
    memory_hot_max_bytes: int = _setting(256 * 2**20, "Most bytes of values kept in the hot tier.")
    memory_flush_ms: int = _setting(50, "Write-behind interval in milliseconds (the most a kill -9 can lose).")
    memory_flush_max_dirty: int = _setting(1_000, "Flush early once this many entries are dirty.")
    memory_synchronous: Synchronous = _setting("NORMAL", "SQLite synchronous level: OFF, NORMAL or FULL.")
    memory_max_value_bytes: int = _setting(2**20, "Largest value accepted by a memory write, serialized.")
    neural_max_layer_size: int = _setting(4096, "Largest number of neurons allowed in one layer.")
    neural_workers: int = _setting(2, "Neural computations that may run at once (worker threads).")
    neural_host_devices: int = _setting(0, "JAX CPU devices to create (0: one per usable core, so populations use every core).")
    swarm_max_swarms: int = _setting(64, "Most swarms the daemon keeps at once.")
    swarm_max_agents: int = _setting(10_000, "Most agents one swarm may have (its maxAgents is capped here).")
    swarm_max_open_subtasks: int = _setting(100_000, "Most unfinished subtasks across all swarms.")
    swarm_max_finished_tasks: int = _setting(10_000, "Finished tasks kept per swarm; the oldest are dropped beyond this.")
    swarm_lease_seconds: float = _setting(300.0, "Default lease of a claimed subtask, in seconds (task_heartbeat extends it).")
    swarm_restart_intensity: int = _setting(5, "Restarts a swarm supervisor allows within swarm_restart_period before escalating.")
    swarm_restart_period: float = _setting(10.0, "Seconds over which restarts are counted.")
    swarm_learning: bool = _setting(True, "Agent brains learn from finished subtasks and route work (false: capability and load only).")
    swarm_brain_save_every: int = _setting(16, "A brain is saved to the store at least every this many new experiences.")
    claude_workers: int = _setting(2, "Headless Claude Code workers (executor 'claude') that may run at once.")
    claude_timeout: float = _setting(600.0, "Seconds one Claude Code worker may run on a subtask before it is killed.")
    claude_bin: Path | None = _setting(None, "The Claude Code binary for workers (default: $CLAUDE_BIN, then PATH, then the usual install folders).")
    claude_workdir: Path | None = _setting(None, "The folder Claude Code workers run in (default: the daemon's working directory).")
    # -- what one client may take from the others (listeners, responses, the store, networks) --
    unix_socket: bool = _setting(True, "Serve the line protocol on <data dir>/swarm-mcp.sock (mode 0600) for local clients.")
    attach: bool = _setting(True, "A stdio serve on a data dir another process owns attaches to that owner over its socket (false: exit 3).")
    daemon_idle_timeout: float = _setting(
        300.0, "Seconds a detached owner (serve --daemon, or one an attached session started) runs with no client and no running work before it stops (0: never)."
    )
    max_connections: int = _setting(256, "Most connections one listener (the TCP port, the Unix socket) holds; more are refused.")
    max_in_flight: int = _setting(64, "Most requests running at once on one connection; its further lines wait to be read.")
    header_timeout: float = _setting(10.0, "Seconds a new connection has to send its first line, or its first HTTP request's headers (0: no limit).")
    idle_timeout: float = _setting(300.0, "Seconds a line connection may sit with nothing in flight and no line before it is closed (0: never).")
    max_response_bytes: int = _setting(32 * 2**20, "Largest tool result sent; a bigger one is refused with how to ask for less.")
    memory_max_bytes: int = _setting(2**30, "Store quota: a write that would grow the stored entries past this many bytes is refused.")
    neural_max_parameters: int = _setting(16 * 2**20, "Most weights and biases one network may have.")
    neural_max_layers: int = _setting(1024, "Most layers one network may have, input and output included (cascade2 adds one per neuron).")
    dashboard_max_streams: int = _setting(16, "Most dashboard pages (live event streams) the HTTP listener serves at once; more get 503.")
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "swarm.db"

    @property
    def networks_dir(self) -> Path:
        return self.data_dir / "networks"

    @property
    def exports_dir(self) -> Path:
        """Memory export, import and backup files."""
        return self.data_dir / "exports"

    @property
    def training_data_dir(self) -> Path:
        """FANN `.data` files that `neural_train` / `neural_test` read through `dataPath`."""
        return self.data_dir / "data"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "swarm-mcp.lock"

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "swarm-mcp.sock"

    @property
    def resolved_token(self) -> str | None:
        """The bearer token from `token` or, failing that, `token_file` (stripped).

        Raises:
            ConfigError: the file cannot be read, or the token is shorter than 32 characters or
                holds spaces or control characters.
        """
        if self.token:
            return _checked_token(self.token, "SWARM_MCP_TOKEN")
        if self.token_file is not None:
            try:
                text = self.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read token file {self.token_file}: {getattr(exc, 'strerror', exc)}") from exc
            if not text:
                raise ConfigError(f"token file {self.token_file} is empty; put the token on its first line")
            return _checked_token(text, f"the token in {self.token_file}")
        return None

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, rendered value, source) for every setting, secrets masked."""
        rows = []
        for f in _fields():
            value = getattr(self, f.name)
            if f.metadata["secret"] and value is not None:
                rendered = f"<set, {len(str(value))} characters>"
            elif isinstance(value, tuple):
                rendered = os.pathsep.join(str(item) for item in value)
            else:
                rendered = "" if value is None else str(value)
            rows.append((f.name, rendered, str(self.sources.get(f.name, Source("default")))))
        return rows


MIN_TOKEN_CHARS = 32


def _checked_token(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            f"{where} must be at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces (it has {len(token)}); "
            "a guessable token protects nothing. Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from: `default`, `config.toml (<path>)`, `env SWARM_MCP_X` or `flag --x`."""

    kind: Literal["default", "file", "env", "flag"]
    detail: str = ""

    def __str__(self) -> str:
        return self.kind if not self.detail else f"{self.kind} {self.detail}"


def _fields() -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(Config) if f.name != "sources")


def env_name(name: str) -> str:
    for f in _fields():
        if f.name == name and f.metadata["env"]:
            return str(f.metadata["env"])
    return ENV_PREFIX + name.upper()


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """`$XDG_DATA_HOME/swarm-mcp`, else `~/.local/share/swarm-mcp`."""
    xdg = environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME", str(Path.home()))) / ".local" / "share"
    return base / "swarm-mcp"


def _coerce(name: str, raw: Any, source: Source) -> Any:
    """Convert a raw value (string from env/flags, or a TOML value) to the field's type."""
    hints = typing.get_type_hints(Config)
    hint = hints[name]
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
    if optional and (raw is None or raw == ""):
        return None
    where = f"{name} (from {source})"
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        text = str(raw)
        match = next((c for c in choices if c.lower() == text.lower()), None)
        if match is None:
            raise ConfigError(f"{where} is {raw!r}; valid values: {', '.join(choices)}")
        return match
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where} is {raw!r}; use true or false")
    if hint is int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} is {raw!r}; expected a whole number") from None
        if value < 0 or (value == 0 and name != "neural_host_devices"):
            raise ConfigError(f"{where} is {value}; it must be positive")
        return value
    if hint is float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} is {raw!r}; expected a number of seconds") from None
        if value < 0:
            raise ConfigError(f"{where} is {value}; it must not be negative")
        return value
    if hint is Path:
        return Path(os.path.expanduser(str(raw))).absolute()
    if hint == tuple[Path, ...]:
        return _directories(where, raw)
    if hint is str:
        return str(raw)
    raise AssertionError(f"unhandled config type {hint!r}")  # pragma: no cover


def _directories(where: str, raw: Any) -> tuple[Path, ...]:
    """A list of directories: a TOML list of strings, or one string with entries separated by ':'."""
    if isinstance(raw, bool) or str(raw).strip().lower() in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ConfigError(
            f"{where} is {raw!r}; it is now a list of directories that tool file paths may name, "
            'e.g. allow_external_paths = ["/srv/swarm-exports"] (a switch that opened every path is no longer offered)'
        )
    items = raw.split(os.pathsep) if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{where} is {raw!r}; give a list of directory paths")
    directories = tuple(Path(os.path.expanduser(item)).absolute() for item in items if item.strip())
    for directory in directories:
        if directory == Path(directory.anchor):
            raise ConfigError(f"{where} lists {directory}, the whole file system; list the directories tools may use")
    return directories


def _flatten_toml(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}".replace("-", "_")
        if isinstance(value, Mapping):
            flat.update(_flatten_toml(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import tomllib

    try:
        with path.open("rb") as handle:
            return _flatten_toml(tomllib.load(handle))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix it or move it aside") from exc


def load_config(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """Merge flags > environment > data-dir config.toml > defaults into a `Config`.

    `flags` maps field names to values the user gave on the command line (absent = not given).

    Raises:
        ConfigError: a value is invalid, or config.toml names an unknown setting.
    """
    names = {f.name for f in _fields()}
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}

    def take(name: str, raw: Any, source: Source) -> None:
        values[name] = _coerce(name, raw, source)
        sources[name] = source

    # The data dir decides where config.toml is, so it cannot come from the file itself.
    if flags.get("data_dir") is not None:
        take("data_dir", flags["data_dir"], Source("flag", "--data-dir"))
    elif environ.get("SWARM_MCP_HOME"):
        take("data_dir", environ["SWARM_MCP_HOME"], Source("env", "SWARM_MCP_HOME"))
    else:
        values["data_dir"] = default_data_dir(environ)
        sources["data_dir"] = Source("default")

    config_path = values["data_dir"] / CONFIG_FILE
    from .datadir import check_owned_privately  # config.toml there sets the token file and paths: trust it only if private

    check_owned_privately(values["data_dir"], what="data dir")
    check_owned_privately(config_path, what="config file")
    for name, raw in _read_config_file(config_path).items():
        if name not in names or name == "data_dir":
            raise ConfigError(
                f"{config_path} sets unknown setting {name!r}; valid settings: "
                + ", ".join(sorted(names - {"data_dir"}))
            )
        take(name, raw, Source("file", str(config_path)))
    for name in sorted(names - {"data_dir"}):
        key = env_name(name)
        if key in environ:
            take(name, environ[key], Source("env", key))
    for name, raw in flags.items():
        if name != "data_dir" and raw is not None:
            if name not in names:
                raise ConfigError(f"unknown setting {name!r}")
            take(name, raw, Source("flag", "--" + name.replace("_", "-")))
    if values.get("tools"):
        known = ("features", "memory", "neural", "swarm", "tasks", "daa", "benchmark")
        unknown = [a for a in str(values["tools"]).split(",") if a.strip() and a.strip() not in known]
        if unknown:
            raise ConfigError(f"tools (from {sources['tools']}) names unknown area(s) {unknown}; valid: {', '.join(known)}")
    if values.get("tcp") is not None:
        try:
            parse_host_port(values["tcp"])
        except ConfigError as exc:
            raise ConfigError(f"tcp (from {sources['tcp']}): {exc}") from None
    for name in names:
        sources.setdefault(name, Source("default"))
    config = Config(**values, sources=sources)
    _ = config.resolved_token  # a short or unreadable token is refused now, not at the first request
    return config


def parse_host_port(text: str, *, default_host: str = "127.0.0.1", default_port: int = 8765) -> tuple[str, int]:
    """Parse `HOST:PORT`, `PORT`, `HOST` or `[v6]:PORT`.

    Raises:
        ConfigError: the port is not a number in 0..65535.
    """
    text = text.strip()
    host, port_text = default_host, str(default_port)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"--tcp {text!r}: unbalanced '['; write [::1]:8765")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest.startswith(":"):
            port_text = rest[1:]
    elif text.count(":") == 1:
        host_part, port_text = text.split(":")
        host = host_part or default_host
    elif text.isdigit():
        port_text = text
    elif text:
        host = text
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"--tcp {text!r}: the port must be a number from 0 to 65535, e.g. 127.0.0.1:8765")
    return host, int(port_text)


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; false for wildcards and every other address."""
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
