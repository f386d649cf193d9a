"""`swarm-mcp dashboard`: find the running daemon's HTTP port, open the page signed in, and say
how to reach it from elsewhere.

The daemon that owns the data dir records its URL in the lock file; `--url` names another. With
a token, the browser gets a one-step sign-in link (`/?token=`) that the page turns into a cookie
and drops from the address bar; the printed link masks the token unless `--show-token`.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import webbrowser
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote, urlsplit

from ..datadir import read_lock_owner
from ..errors import SwarmError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ("dashboard_url", "open_dashboard")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dashboard_url(config: Config, url: str | None = None) -> str:
    """The dashboard's base URL (`http://host:port`): from `url` (a daemon URL, `/mcp` or not),
    else from the lock file of the daemon that owns the data dir.

    Raises:
        SwarmError: no URL given and no running daemon on this data dir serves TCP.
    """
    if url is None:
        owner = read_lock_owner(config.lock_path)
        url = owner.get("tcp_url") if _alive(owner.get("pid")) else None  # type: ignore[assignment]
        if not url:
            raise SwarmError(
                f"no running swarm-mcp daemon on {config.data_dir} serves HTTP: start one with `swarm-mcp serve --tcp` "
                "(the dashboard is on its port), or pass --url http://HOST:PORT"
            )
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SwarmError(f"--url {url!r} is not an http:// URL; give the daemon's address, e.g. http://127.0.0.1:8765")
    return f"{parts.scheme}://{parts.netloc}"


def _probe(page: str) -> int | None:
    """The status `GET page` answers with, or None when nothing answers."""
    try:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the daemon, never a proxy
        with direct.open(page, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def open_dashboard(config: Config, *, url: str | None, browser: bool, show_token: bool, out: TextIO) -> int:
    """Print where the dashboard is and how to sign in; open it in the default browser.

    Raises:
        SwarmError: as `dashboard_url`, or the token file cannot be read.
    """
    base = dashboard_url(config, url)
    token = config.resolved_token
    page = f"{base}/"
    out.write(f"swarm-mcp dashboard: {page}\n")
    if token is None:
        answer = _probe(page)
        if answer == 401:
            out.write("This daemon requires its token, which this command was not given: set SWARM_MCP_TOKEN or pass "
                      f"--token-file, or open {base}/?token=<token> yourself.\n")
        elif answer is None:
            out.write(f"Nothing answers at {page} now: is the daemon running?\n")
        else:
            out.write("The daemon has no token, so the page opens as it is (like /mcp: anyone who can reach this "
                      "address can read it).\n")
        link = page
    else:
        link = f"{base}/?token={quote(token, safe='')}"
        shown = link if show_token else f"{base}/?token=<token>"
        out.write(
            "This daemon requires its token. The sign-in link sets a cookie (an HMAC of the token, for the dashboard "
            "only) and drops the token from the address bar:\n"
            f"  {shown}\n"
            "The token is SWARM_MCP_TOKEN or the daemon's --token-file"
            + ("" if show_token else "; --show-token prints the whole link")
            + ". Scripts can send Authorization: Bearer <token> instead.\n"
        )
    if browser:
        try:
            opened = webbrowser.open(link, new=2)
        except webbrowser.Error:
            opened = False
        out.write("Opened it in the default browser.\n" if opened else
                  "No browser could be started here (set BROWSER, or open the link yourself).\n")
    out.flush()
    return 0
