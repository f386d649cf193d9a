"""What a Claude Code worker is told: one subtask, its agent's role, the task around it, and the
results it depends on; and the same `WorkItem` built from a `task_claim` reply (remote workers).

The prompt is plain Markdown with fixed headings, so a model (and a person reading a log) finds
each part in the same place. Every part is bounded: descriptions by the board's own limits, each
dependency result to `MAX_CONTEXT_CHARS_EACH`, the whole prompt to `MAX_PROMPT_CHARS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import InvalidArgument
from ..swarm import PATTERNS, WorkItem

__all__ = ("HARNESS_TOOLS", "MAX_PROMPT_CHARS", "SERVER_NAME", "build_prompt", "work_item_from_claim")

SERVER_NAME = "swarm"  # the MCP server's name in the worker's --mcp-config: tools are mcp__swarm__*
HARNESS_TOOLS = ("task_claim", "task_complete", "task_fail", "task_heartbeat")  # the harness reports; Claude must not
MAX_CONTEXT_CHARS_EACH = 64_000
MAX_PROMPT_CHARS = 600_000
INTRO = ("You are a worker in a swarm coordinated by swarm-mcp. Do one subtask of a larger task and answer with "
         "its result.")


def _render_result(result: Any) -> str:
    """A dependency's result as text: a Claude worker's text as is, anything else as JSON."""
    if isinstance(result, Mapping) and isinstance(result.get("text"), str):
        text = result["text"]
    elif isinstance(result, str):
        text = result
    else:
        text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    if len(text) > MAX_CONTEXT_CHARS_EACH:
        cut = len(text) - MAX_CONTEXT_CHARS_EACH
        text = text[:MAX_CONTEXT_CHARS_EACH] + f"\n[… {cut:,} more characters; read them with task_results]"
    return text


def _role(agent: Mapping[str, Any]) -> str:
    pattern = str(agent.get("pattern") or "")
    summary = PATTERNS[pattern].summary if pattern in PATTERNS else ""
    capabilities = ", ".join(str(c) for c in agent.get("capabilities") or ()) or "none listed"
    lines = [
        f"You are agent {agent.get('name') or agent.get('id')} ({agent.get('id')}), a {agent.get('type')} agent.",
        f"Capabilities: {capabilities}.",
    ]
    if pattern:
        lines.append(f"Cognitive pattern: {pattern}" + (f" ({summary.rstrip('.')})" if summary else "") + ".")
    return "\n".join(lines)


def _dependencies(context: list[dict[str, Any]]) -> str:
    if not context:
        return "None: this subtask depends on no other."
    parts = []
    for dep in context:
        head = f"### {dep.get('subtask_id')}: {dep.get('description', '')}".rstrip()
        if dep.get("agent_id"):
            head += f" (done by {dep['agent_id']})"
        if dep.get("omitted"):
            body = f"(not included here: {dep['omitted']})"
        else:
            body = _render_result(dep.get("result"))
        parts.append(f"{head}\n\n{body}")
    return "\n\n".join(parts)


def build_prompt(item: WorkItem) -> str:
    """The prompt for one subtask (at most `MAX_PROMPT_CHARS` characters)."""
    harness = ", ".join(HARNESS_TOOLS[:-1]) + f" or {HARNESS_TOOLS[-1]}"
    prompt = f"""{INTRO}

## Your role

{_role(item.agent)}

## The overall task ({item.task_id})

{item.task_description}

## Your subtask ({item.subtask_id}, type: {item.type})

{item.description}

## Results of the subtasks this one depends on

{_dependencies(item.context)}

## Tools

The swarm-mcp daemon that coordinates this swarm (swarm {item.swarm_id or "unknown"}) is attached as the MCP
server `{SERVER_NAME}`: its tools are named mcp__{SERVER_NAME}__<tool>. memory_usage keeps notes that other agents
can read (store, retrieve, search); task_status and task_results show how the task is going.
Do not call {harness}: this run reports your answer for you.

## Your answer

Do the subtask, then reply with its result only. Your final message becomes the subtask's result, and the
subtasks that depend on this one receive it.
"""
    if len(prompt) > MAX_PROMPT_CHARS:
        cut = len(prompt) - MAX_PROMPT_CHARS
        prompt = prompt[:MAX_PROMPT_CHARS] + f"\n[… {cut:,} characters cut to fit the worker's prompt limit]\n"
    return prompt


def work_item_from_claim(claim: Mapping[str, Any]) -> WorkItem:
    """The `WorkItem` for a `task_claim` reply (`claimed: true`).

    Raises:
        InvalidArgument: the reply lacks a field a claim always has (not a swarm-mcp daemon?).
    """
    try:
        agent = claim["agent"]
        return WorkItem(
            subtask_id=str(claim["subtask_id"]),
            task_id=str(claim["task_id"]),
            swarm_id=str(claim.get("swarm_id") or ""),
            agent={"id": agent["agent_id"], "type": agent.get("type"), "name": agent.get("name"),
                   "capabilities": list(agent.get("capabilities") or ()), "pattern": agent.get("cognitive_pattern")},
            description=str(claim["description"]),
            type=str(claim.get("type") or "general"),
            task_description=str(claim.get("task") or ""),
            context=list(claim.get("context") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise InvalidArgument(f"the task_claim reply has no {exc} field; "
                              "is the --attach URL a swarm-mcp daemon?") from None
