"""The official MCP conformance suite (`@modelcontextprotocol/conformance`, on Node 22) against a
real `serve --tcp` daemon, at both spec revisions it holds requirements for.

Every scenario whose capability the daemon advertises (tools, resources with subscribe and
listChanged, prompts, logging, completions, and the transport itself) must pass every check (a
skipped check fails too; warnings about SHOULDs are allowed). The
rest are named below with the reason they are out of scope: they call the suite's own fixture
tools, resources and prompts (`test_*`, `test://...`; on a server without them some even "pass"
vacuously, e.g. an unknown-tool error is text content), or exercise features the daemon does not
advertise (the tasks extension, server-to-client requests). The daemon holds a swarm, a task and a
memory entry, so resources/list and the caching scenario read real resources.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from external_clients import Conformance, tail
from support import server_output, tcp_server

from swarm_mcp.client import LineClient

pytestmark = pytest.mark.slow

IN_SCOPE: dict[str, set[str]] = {
    "2025-11-25": {
        "server-initialize", "ping", "logging-set-level", "completion-complete", "tools-list",
        "server-sse-multiple-streams", "resources-list", "resources-subscribe", "resources-unsubscribe", "prompts-list",
        "dns-rebinding-protection", "server-session-lifecycle",
    },
    "2026-07-28": {
        "server-stateless", "completion-complete", "tools-list", "server-sse-multiple-streams", "resources-list",
        "sep-2164-resource-not-found", "prompts-list", "dns-rebinding-protection", "caching",
        "input-required-result-unsupported-methods", "input-required-result-ignore-extra-params",
        "http-header-validation",
    },
}
# Checks inside an in-scope scenario that need a fixture of the suite's own.
FIXTURE_CHECKS = {
    ("server-stateless", "sep-2575-server-rejects-undeclared-capability"): "calls the fixture tool test_missing_capability",
    ("server-stateless", "sep-2575-missing-capability-http-400"): "needs the fixture tool test_missing_capability",
}
_FIXTURE_TOOLS = "calls the suite's fixture tools (test_*)"
_INPUT = "the server asking the client for input (elicitation, sampling, roots) through fixture tools; the daemon never asks"
OUT_OF_SCOPE: dict[str, str] = {
    **dict.fromkeys(["tools-call-simple-text", "tools-call-image", "tools-call-audio", "tools-call-embedded-resource",
                     "tools-call-mixed-content", "tools-call-with-logging", "tools-call-error", "tools-call-with-progress",
                     "json-schema-2020-12", "server-sse-polling"], _FIXTURE_TOOLS),
    **dict.fromkeys(["tools-call-sampling", "tools-call-elicitation", "elicitation-sep1034-defaults",
                     "elicitation-sep1330-enums"], _INPUT),
    **dict.fromkeys(["resources-read-text", "resources-read-binary", "resources-templates-read"],
                    "reads the suite's fixture resources (test://...)"),
    **dict.fromkeys(["prompts-get-simple", "prompts-get-with-args", "prompts-get-embedded-resource",
                     "prompts-get-with-image"], "gets the suite's fixture prompts (test_*)"),
    **{f"input-required-result-{name}": _INPUT for name in (
        "basic-elicitation", "basic-sampling", "basic-list-roots", "request-state", "multiple-input-requests",
        "multi-round", "missing-input-response", "non-tool-request", "result-type", "tampered-state",
        "capability-check", "validate-input")},
    **{f"tasks-{name}": "the tasks extension, which the daemon does not advertise" for name in (
        "lifecycle", "capability-negotiation", "wire-fields", "request-state-removal", "mrtr-input", "request-headers",
        "dispatch-and-envelope", "status-notifications", "required-task-error", "mrtr-composition")},
    "http-custom-header-server-validation": "needs tools with x-mcp-header annotations; the daemon has none",
}
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


def populate(port: int) -> None:
    with LineClient.connect("127.0.0.1", port) as line:
        line.initialize()
        swarm = line.call_tool("swarm_init", {"topology": "star", "maxAgents": 2})["structuredContent"]["swarm"]["swarm_id"]
        line.call_tool("agent_spawn", {"swarmId": swarm, "type": "coder"})
        line.call_tool("task_orchestrate", {"task": "Write it", "swarmId": swarm, "subtasks": [
            {"id": "write", "description": "Write it", "type": "code"}]})
        line.call_tool("memory_usage", {"action": "store", "namespace": "notes", "key": "k", "value": 1})


def results(out: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for folder in out.iterdir():
        match = _RESULT_DIR.match(folder.name)
        if match and (folder / "checks.json").exists():
            found[match["scenario"]] = json.loads((folder / "checks.json").read_text())
    return found


@pytest.mark.parametrize("revision", sorted(IN_SCOPE))
def test_every_scenario_of_an_advertised_capability_passes(conformance: Conformance, tmp_path: Path,
                                                           revision: str) -> None:
    home, out = tmp_path / "home", tmp_path / "results"
    home.mkdir()
    with tcp_server(home) as (port, _):
        populate(port)
        done = conformance.run_server_suite(f"http://127.0.0.1:{port}/mcp", revision, out)
    report = f"suite output:\n{tail(done.stdout, 80)}\n{tail(done.stderr)}\ndaemon stderr:\n{tail(server_output(home)[1])}"
    ran = results(out) if out.exists() else {}

    assert ran, f"the suite ran no scenario\n{report}"
    unknown = set(ran) - IN_SCOPE[revision] - set(OUT_OF_SCOPE)
    assert not unknown, f"scenarios this test has not classified (in scope, or out with a reason): {sorted(unknown)}"
    assert IN_SCOPE[revision] <= set(ran), f"in-scope scenarios the suite did not run: {IN_SCOPE[revision] - set(ran)}"
    failed = {
        (scenario, check["id"]): (check.get("errorMessage") or check.get("description") or "")[:300]
        for scenario in IN_SCOPE[revision] for check in ran[scenario]
        if check["status"] in ("FAILURE", "SKIPPED") and (scenario, check["id"]) not in FIXTURE_CHECKS
    }
    assert not failed, f"conformance failures at {revision}: {json.dumps(failed, indent=1)}\n{report}"
    assert any(c["id"] == "wire-schema-valid" and c["status"] == "SUCCESS" for c in ran["resources-list"])
    listed = next(c for c in ran["resources-list"] if c["id"] == "resources-list")
    assert listed["details"]["resourceCount"] >= 4, "the listing the suite checked held the daemon's resources"
