"""The worker's prompt: every part in its place, every part bounded; and a claim as a WorkItem."""

from __future__ import annotations

import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.swarm import WorkItem
from swarm_mcp.workers import build_prompt, work_item_from_claim
from swarm_mcp.workers._prompt import MAX_CONTEXT_CHARS_EACH, MAX_PROMPT_CHARS

AGENT = {"id": "agent-1", "type": "tester", "name": "tess", "capabilities": ["testing", "python"],
         "pattern": "critical"}


def item(**changes: object) -> WorkItem:
    fields: dict[str, object] = {
        "subtask_id": "task-1.tests", "task_id": "task-1", "swarm_id": "swarm-1", "agent": AGENT,
        "description": "Write regression tests for the tokenizer", "type": "testing",
        "task_description": "Ship a tokenizer with tests", "context": [],
    }
    fields.update(changes)
    return WorkItem(**fields)  # type: ignore[arg-type]


def test_the_prompt_holds_the_subtask_the_role_the_task_and_the_tools_under_fixed_headings() -> None:
    prompt = build_prompt(item())
    headings = [line for line in prompt.splitlines() if line.startswith("## ")]
    assert headings == ["## Your role", "## The overall task (task-1)", "## Your subtask (task-1.tests, type: testing)",
                        "## Results of the subtasks this one depends on", "## Tools", "## Your answer"]
    assert "Write regression tests for the tokenizer" in prompt and "Ship a tokenizer with tests" in prompt
    assert "agent tess (agent-1), a tester agent" in prompt and "Capabilities: testing, python." in prompt
    assert "Cognitive pattern: critical (Careful: the best agent, and every piece of its work is reviewed)." in prompt
    assert "mcp__swarm__<tool>" in prompt and "swarm swarm-1" in prompt
    assert "Do not call task_claim, task_complete, task_fail or task_heartbeat: this run reports" in prompt
    assert "None: this subtask depends on no other." in prompt


def test_dependency_results_appear_as_text_a_claude_result_by_its_text_and_large_ones_are_cut() -> None:
    context = [
        {"subtask_id": "task-1.impl", "description": "Implement it", "agent_id": "agent-2",
         "result": {"text": "tokenizer.py written", "claude": {"num_turns": 3}}},
        {"subtask_id": "task-1.spec", "description": "Specify it", "agent_id": None, "result": {"tokens": ["a", "b"]}},
        {"subtask_id": "task-1.big", "description": "Huge", "agent_id": None,
         "result": "x" * (MAX_CONTEXT_CHARS_EACH + 10)},
        {"subtask_id": "task-1.far", "description": "Too big for context", "agent_id": None, "result": None,
         "omitted": "600000 bytes; read it with task_results"},
    ]
    prompt = build_prompt(item(context=context))
    assert "### task-1.impl: Implement it (done by agent-2)\n\ntokenizer.py written" in prompt
    assert '"tokens": [' in prompt and "num_turns" not in prompt
    assert "[… 10 more characters; read them with task_results]" in prompt
    assert "(not included here: 600000 bytes; read it with task_results)" in prompt


def test_the_whole_prompt_is_bounded() -> None:
    context = [{"subtask_id": f"task-1.d{i}", "description": "d", "agent_id": None,
                "result": "y" * MAX_CONTEXT_CHARS_EACH} for i in range(12)]
    prompt = build_prompt(item(context=context))
    assert MAX_PROMPT_CHARS < len(prompt) < MAX_PROMPT_CHARS + 200
    assert prompt.rstrip().endswith("characters cut to fit the worker's prompt limit]")


def test_a_task_claim_reply_becomes_the_same_work_item_the_daemon_builds() -> None:
    claim = {
        "claimed": True, "subtask_id": "task-1.tests", "task_id": "task-1", "swarm_id": "swarm-1",
        "description": "Write regression tests for the tokenizer", "type": "testing",
        "task": "Ship a tokenizer with tests",
        "agent": {"agent_id": "agent-1", "type": "tester", "name": "tess", "capabilities": ["testing", "python"],
                  "cognitive_pattern": "critical"},
        "context": [], "attempt": 1, "lease": {"lease_id": "l", "expires_at": 0.0, "seconds": 60.0},
    }
    assert work_item_from_claim(claim) == item()


def test_a_reply_that_is_not_a_claim_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="no 'agent' field; is the --attach URL a swarm-mcp daemon"):
        work_item_from_claim({"claimed": True, "subtask_id": "s"})
