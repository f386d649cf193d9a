"""The live swarm dashboard: a read-only web page at `/` on the daemon's HTTP port.

It draws each swarm's topology with every agent's state, each running task's plan as a DAG
that fills in as subtasks finish, learning curves (per-agent brain loss, per-swarm routing
success per window of attempts, round-robin swarms being the measured baseline), memory and
neural runtime figures and recent events, updated live over one server-sent event stream per
page from the daemon's event feed. Imported on the first request for it, never at start.
`swarm-mcp dashboard` opens it (`open_dashboard`).
"""

from __future__ import annotations

from ._app import COOKIE as COOKIE
from ._app import DashboardApp as DashboardApp
from ._app import cookie_value as cookie_value
from ._cli import dashboard_url as dashboard_url
from ._cli import open_dashboard as open_dashboard

__all__ = ("COOKIE", "DashboardApp", "cookie_value", "dashboard_url", "open_dashboard")
