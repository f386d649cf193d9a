"""Configuration: flags > environment > config.toml > defaults, each value with its source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swarm_mcp.config import ConfigError, default_data_dir, is_loopback_host, load_config, parse_host_port
from swarm_mcp.errors import Unavailable


def test_defaults_apply_when_nothing_is_set(tmp_path: Path) -> None:
    config = load_config({"data_dir": str(tmp_path)}, {})
    assert config.log_level == "info" and config.max_line_bytes == 4 * 2**20 and config.memory_flush_ms == 50
    assert str(config.sources["log_level"]) == "default"


def test_the_data_dir_defaults_to_xdg_data_home_and_then_to_local_share(tmp_path: Path) -> None:
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "swarm-mcp"
    assert default_data_dir({"HOME": "/home/u"}) == Path("/home/u/.local/share/swarm-mcp")
    config = load_config({}, {"SWARM_MCP_HOME": str(tmp_path / "h")})
    assert config.data_dir == tmp_path / "h" and str(config.sources["data_dir"]) == "env SWARM_MCP_HOME"


def test_flags_beat_environment_beat_the_config_file_beat_defaults(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('log_level = "error"\nmax_line_bytes = 1000\n[memory]\nflush_ms = 20\n')
    env = {"SWARM_MCP_MAX_LINE_BYTES": "2000", "SWARM_MCP_MEMORY_FLUSH_MAX_DIRTY": "7"}
    config = load_config({"data_dir": str(tmp_path), "max_line_bytes": 3000}, env)
    assert config.max_line_bytes == 3000 and str(config.sources["max_line_bytes"]) == "flag --max-line-bytes"
    assert config.memory_flush_max_dirty == 7 and str(config.sources["memory_flush_max_dirty"]) == "env SWARM_MCP_MEMORY_FLUSH_MAX_DIRTY"
    assert config.log_level == "error" and config.sources["log_level"].kind == "file"
    assert config.memory_flush_ms == 20
    assert config.memory_hot_max_entries == 100_000 and str(config.sources["memory_hot_max_entries"]) == "default"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SWARM_MCP_LOG_LEVEL": "loud"}, "valid values: debug, info, warning, error"),
        ({"SWARM_MCP_MAX_LINE_BYTES": "many"}, "expected a whole number"),
        ({"SWARM_MCP_MAX_LINE_BYTES": "-5"}, "must be positive"),
        ({"SWARM_MCP_ALLOW_EXTERNAL_PATHS": "true"}, "list of directories"),
        ({"SWARM_MCP_TCP": "localhost:99999"}, "0 to 65535"),
    ],
)
def test_an_invalid_value_names_the_setting_its_source_and_what_is_valid(tmp_path: Path, env, expected) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"data_dir": str(tmp_path)}, env)
    assert expected in str(caught.value)
    assert "SWARM_MCP_" in str(caught.value)


def test_an_unknown_key_in_config_toml_is_an_error_listing_valid_keys(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("flush_speed = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config({"data_dir": str(tmp_path)}, {})
    assert "flush_speed" in str(caught.value) and "memory_flush_ms" in str(caught.value)


TOKEN = "hunter2-" * 5


def test_secrets_are_never_rendered(tmp_path: Path) -> None:
    config = load_config({"data_dir": str(tmp_path)}, {"SWARM_MCP_TOKEN": TOKEN})
    rendered = " ".join(" ".join(row) for row in config.describe())
    assert "hunter2" not in rendered and "<set, 40 characters>" in rendered
    assert config.resolved_token == TOKEN


def test_the_token_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "t").write_text(f"  {TOKEN}  \n")
    assert load_config({"data_dir": str(tmp_path), "token_file": str(tmp_path / "t")}, {}).resolved_token == TOKEN
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_config({"data_dir": str(tmp_path), "token_file": str(tmp_path / "empty")}, {})


@pytest.mark.parametrize("token", ["hunter2hunter2", "x" * 31, "a token with spaces in it, long enough"])
def test_a_short_or_malformed_token_is_refused_with_how_to_make_one(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="at least 32") as caught:
        load_config({"data_dir": str(tmp_path)}, {"SWARM_MCP_TOKEN": token})
    assert "secrets.token_urlsafe" in str(caught.value)
    (tmp_path / "t").write_text(token + "\n")
    with pytest.raises(ConfigError, match="at least 32"):
        load_config({"data_dir": str(tmp_path), "token_file": str(tmp_path / "t")}, {})


@pytest.mark.parametrize("target", ["data dir", "config file"])
def test_a_data_dir_or_config_file_others_can_write_is_refused(tmp_path: Path, target: str) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("memory_flush_ms = 20\n")
    (home if target == "data dir" else home / "config.toml").chmod(0o777 if target == "data dir" else 0o666)
    with pytest.raises(Unavailable, match=f"{target} .* is writable by other users") as caught:
        load_config({"data_dir": str(home)}, {})
    assert "chmod go-w" in str(caught.value)


def test_a_data_dir_owned_by_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: real + 1)  # as if another user ran the server
    with pytest.raises(Unavailable, match="owned by uid .*, not by this user"):
        load_config({"data_dir": str(tmp_path)}, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8765", ("127.0.0.1", 8765)), ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:80", ("::1", 80)), ("myhost", ("myhost", 8765))],
)
def test_host_port_parsing(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("10.0.0.5") and not is_loopback_host("example.com")


def test_allow_external_paths_is_a_list_of_directories_and_the_old_switch_is_refused(tmp_path: Path) -> None:
    listed = load_config({"data_dir": str(tmp_path)}, {"SWARM_MCP_ALLOW_EXTERNAL_PATHS": "/srv/a:/srv/b"})
    assert listed.allow_external_paths == (Path("/srv/a"), Path("/srv/b"))
    (tmp_path / "config.toml").write_text('allow_external_paths = ["/srv/c"]\n')
    assert load_config({"data_dir": str(tmp_path)}, {}).allow_external_paths == (Path("/srv/c"),)
    (tmp_path / "config.toml").write_text("allow_external_paths = true\n")
    with pytest.raises(ConfigError, match="list of directories"):
        load_config({"data_dir": str(tmp_path)}, {})
    with pytest.raises(ConfigError, match="whole file system"):
        load_config({"data_dir": str(tmp_path / "x")}, {"SWARM_MCP_ALLOW_EXTERNAL_PATHS": "/"})
