"""`swarm-mcp dashboard`: finds the running daemon from the data dir, prints the URL and how to sign
in, and opens a link in the default browser that really signs the browser in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from dashboard_support import get
from external_clients import wait_until
from support import REPO_ROOT, server_env, tcp_server

TOKEN = "dashboard-cli-token-for-tests-0123456789"


def dashboard(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarm_mcp", "dashboard", *args], env=server_env(home, **env),
                          capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL)


def test_it_opens_a_sign_in_link_in_the_default_browser_that_signs_the_browser_in(tmp_path: Path) -> None:
    opened = tmp_path / "opened-url"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}.part && mv {opened}.part {opened}\n')
    browser.chmod(0o700)
    with tcp_server(tmp_path, SWARM_MCP_TOKEN=TOKEN) as (port, _):
        done = dashboard(tmp_path, SWARM_MCP_TOKEN=TOKEN, BROWSER=f"{browser} %s")
        assert done.returncode == 0, done.stderr
        assert f"swarm-mcp dashboard: http://127.0.0.1:{port}/\n" in done.stdout
        assert f"http://127.0.0.1:{port}/?token=<token>" in done.stdout and TOKEN not in done.stdout
        assert "Opened it in the default browser." in done.stdout
        wait_until(opened.exists, timeout=15, what=lambda: f"the browser command never ran; stdout: {done.stdout}")
        link = urlsplit(opened.read_text())
        status, headers, _ = get(port, f"{link.path}?{link.query}")
        assert status == 303
        assert get(port, "/dashboard/api/state", {"Cookie": headers["set-cookie"].split(";", 1)[0]})[0] == 200


def test_without_a_browser_it_prints_the_whole_link_only_when_asked(tmp_path: Path) -> None:
    with tcp_server(tmp_path, SWARM_MCP_TOKEN=TOKEN) as (port, _):
        shown = dashboard(tmp_path, "--no-browser", "--show-token", SWARM_MCP_TOKEN=TOKEN)
        plain = dashboard(tmp_path, "--no-browser", "--url", f"http://127.0.0.1:{port}/mcp")
    with tcp_server(tmp_path) as (open_port, _):
        open_daemon = dashboard(tmp_path, "--no-browser")
    assert shown.returncode == 0 and f"http://127.0.0.1:{port}/?token={TOKEN}" in shown.stdout
    assert "Opened" not in shown.stdout
    assert plain.returncode == 0 and f"swarm-mcp dashboard: http://127.0.0.1:{port}/\n" in plain.stdout
    assert "requires its token, which this command was not given" in plain.stdout
    assert open_daemon.returncode == 0 and f"http://127.0.0.1:{open_port}/\n" in open_daemon.stdout
    assert "The daemon has no token" in open_daemon.stdout


def test_with_no_daemon_serving_http_it_says_how_to_start_one(tmp_path: Path) -> None:
    done = dashboard(tmp_path, "--no-browser")
    assert done.returncode != 0 and done.stdout == ""
    assert "swarm-mcp serve --tcp" in done.stderr and "--url" in done.stderr
    bad = dashboard(tmp_path, "--no-browser", "--url", "ftp://x")
    assert bad.returncode != 0 and "is not an http:// URL" in bad.stderr
