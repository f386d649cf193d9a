"""Prompts, which Claude Code offers as slash commands (`/mcp__swarm__orchestrate`, ...).

- `orchestrate(objective, topology?)`: set up a swarm, write the plan as explicit subtasks, call
  `task_orchestrate`, follow it to the end.
- `work(swarmId?, capabilities?)`: a second session's loop: claim, do, complete, repeat.
- `review(taskId)`: a finished task's results, gathered, and a request for a review.

Each is rendered from the daemon's state now (the swarms that exist, the task's results), so the
model starts from facts instead of asking for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import NotFound
from ..protocol import INVALID_PARAMS, RpcError
from ..swarm import TASK_TYPES, TOPOLOGIES, TaskState, task_results

if TYPE_CHECKING:
    from ..app import App

__all__ = ("PROMPTS", "get_prompt", "list_prompts")

REVIEW_CHARS = 200_000  # the whole review prompt's results
RESULT_CHARS = 20_000  # one subtask's result in it

PROMPTS: tuple[dict[str, Any], ...] = (
    {
        "name": "orchestrate",
        "title": "Orchestrate an objective with a swarm",
        "description": "Set up a swarm, write the plan as explicit subtasks, run it with task_orchestrate and follow it "
                       "to the end.",
        "arguments": [
            {"name": "objective", "description": "What the swarm should achieve, in words.", "required": True},
            {"name": "topology", "description": f"One of {', '.join(TOPOLOGIES)}; leave it out and the Queen chooses.",
             "required": False},
        ],
    },
    {
        "name": "work",
        "title": "Work on a swarm's subtasks",
        "description": "The loop for a session that takes a share of the work: claim a subtask, do it, report it, repeat.",
        "arguments": [
            {"name": "swarmId", "description": "Only this swarm's work (default: any swarm's).", "required": False},
            {"name": "capabilities", "description": "Comma-separated: only subtasks needing nothing beyond these.",
             "required": False},
        ],
    },
    {
        "name": "review",
        "title": "Review a finished task",
        "description": "Gather a finished task's results and review them: correctness, gaps, conflicts, next steps.",
        "arguments": [{"name": "taskId", "description": "The task to review (task_status lists them).", "required": True}],
    },
)
_BY_NAME = {p["name"]: p for p in PROMPTS}


def list_prompts() -> dict[str, Any]:
    return {"prompts": [dict(p) for p in PROMPTS]}


def _arguments(name: str, given: Mapping[str, str] | None) -> dict[str, str]:
    prompt = _BY_NAME.get(name)
    if prompt is None:
        raise RpcError(INVALID_PARAMS, f"Unknown prompt {name!r}; prompts/list shows {', '.join(_BY_NAME)}")
    known = {a["name"] for a in prompt["arguments"]}
    given = {k: v.strip() for k, v in (given or {}).items() if v.strip()}
    unknown = sorted(set(given) - known)
    if unknown:
        raise RpcError(INVALID_PARAMS, f"prompt {name!r} has no argument {unknown[0]!r}; its arguments: {', '.join(sorted(known))}")
    for argument in prompt["arguments"]:
        if argument["required"] and argument["name"] not in given:
            raise RpcError(INVALID_PARAMS, f"prompt {name!r} needs argument {argument['name']!r}: {argument['description']}")
    return given


def _user(text: str, description: str) -> dict[str, Any]:
    return {"description": description, "messages": [{"role": "user", "content": {"type": "text", "text": text}}]}


def _swarms_now(app: App) -> str:
    engine = app.swarm
    if not engine.swarms:
        return "No swarm exists yet."
    lines = [f"- {s.id} ({s.name}): {s.topology}, {len(s.live_agents())} agents, {s.routing} routing, executor {s.executor}"
             for s in list(engine.swarms.values())[:10]]
    more = f"\n- … and {len(engine.swarms) - 10} more (swarm_status lists them)" if len(engine.swarms) > 10 else ""
    return "Swarms now:\n" + "\n".join(lines) + more


def get_prompt(app: App, name: str, given: Mapping[str, str] | None) -> dict[str, Any]:
    """The prompt's messages, rendered from the daemon's state.

    Raises:
        RpcError: -32602 for an unknown prompt, a missing or unknown argument, or a task that
            does not exist or has not finished.
    """
    arguments = _arguments(name, given)
    if name == "orchestrate":
        return _user(_orchestrate(app, arguments["objective"], arguments.get("topology")), _BY_NAME[name]["description"])
    if name == "work":
        return _user(_work(app, arguments.get("swarmId"), arguments.get("capabilities")), _BY_NAME[name]["description"])
    return _user(_review(app, arguments["taskId"]), _BY_NAME[name]["description"])


def _orchestrate(app: App, objective: str, topology: str | None) -> str:
    if topology is not None and topology not in TOPOLOGIES:
        # Claude Code (2.1.x) fills a slash command's arguments one word each and drops the rest, so
        # `/mcp__swarm__orchestrate Build the importer` arrives as objective "Build", topology "the".
        raise RpcError(INVALID_PARAMS, f"topology {topology!r} is not one of {', '.join(TOPOLOGIES)}. (From a Claude Code "
                                       "slash command each word fills one argument: give the objective as one word, "
                                       "e.g. build-the-importer, then a topology; or just ask for the objective in words.)")
    setup = (f'Call swarm_init with topology "{topology}" and a maxAgents that fits the work, then agent_spawn the '
             "agent types your plan needs."
             if topology else
             "Call swarm_init with objective set to the objective above: the Queen chooses the topology, strategy and "
             "agent mix and spawns the agents (check them with swarm_status; agent_spawn more if the plan needs them).")
    return f"""Orchestrate this objective with the swarm-mcp server (the MCP server with the swarm_*, agent_* and task_* tools):

<objective>
{objective}
</objective>

{_swarms_now(app)}

1. Set up the swarm. {setup} If a swarm above already fits, use it and pass its swarmId from now on.
2. Write the plan yourself, as explicit subtasks: a list of {{"id", "description", "type", "capabilities", "dependsOn"}}.
   Each subtask is one concrete piece of work; "type" is one of {", ".join(TASK_TYPES)}; "dependsOn" lists the ids that
   must complete first (no cycles). Prefer independent subtasks where the work allows, so agents run them in parallel.
3. Call task_orchestrate with task set to the objective, the swarmId, and subtasks set to your plan. The Queen checks
   it, routes each ready subtask to the agent whose brain predicts it will do it best, and returns the task id.
4. Follow the task: task_status with the taskId (detailed: true; wait: seconds blocks until it finishes), or read the
   resource swarm://tasks/<taskId>. Subtasks of the client executor wait for an MCP client to claim them: take them with
   task_claim, do the work, and report each with task_complete (or task_fail with the reason); task_heartbeat keeps a
   long claim alive. Another session can share the work with the "work" prompt.
5. When the task has finished, call task_results (format: detailed) and report what was done, what failed and why."""


def _work(app: App, swarm_id: str | None, capabilities: str | None) -> str:
    if swarm_id is not None and swarm_id not in app.swarm.swarms:
        raise RpcError(INVALID_PARAMS, f"No swarm with id {swarm_id!r} ({len(app.swarm.swarms)} exist); "
                       "leave swarmId out, or pick one from swarm_status")
    words = [w.strip() for w in (capabilities or "").split(",") if w.strip()]
    claim = {"wait": 30}
    if swarm_id is not None:
        claim["swarmId"] = swarm_id  # type: ignore[assignment]
    if words:
        claim["capabilities"] = words  # type: ignore[assignment]
    scope = f"swarm {swarm_id}" if swarm_id else "any swarm"
    return f"""Take a share of the work of {scope} on the swarm-mcp server, as one of several sessions working at once.

{_swarms_now(app)}

Repeat until there is no work left:
1. Call task_claim with {orjson.dumps(claim).decode()}. It returns a subtask (its description, the task it belongs to,
   the agent you act as, the results of the subtasks it depends on) under a lease, or claimed: false when nothing is
   ready within the wait.
2. Do the work the subtask describes, using its context. If it takes long, call task_heartbeat with its subtask id
   before the lease runs out.
3. Report it: task_complete with taskId set to the subtask id and result set to what you produced (JSON: text, or an
   object), or task_fail with the reason if you cannot do it (another agent gets it).
4. Go back to step 1. After two claims in a row come back empty, stop and say what you completed."""


def _review(app: App, task_id: str) -> str:
    try:
        task = app.swarm.board.task(task_id)
    except NotFound as exc:
        raise RpcError(INVALID_PARAMS, str(exc)) from None
    subs = app.swarm.board.subtasks_of(task)
    if task.state in (TaskState.RUNNING, TaskState.PENDING):
        done = sum(s.state.finished for s in subs)
        raise RpcError(INVALID_PARAMS, f"task {task.id!r} is still {task.state.value} ({done}/{len(subs)} subtasks "
                       "finished); review it once it has finished (task_status with wait blocks until then)")
    results = task_results(app.swarm, task, "detailed")
    used, shown = 0, []
    for item in results["results"]:
        text = item["result"] if isinstance(item["result"], str) else orjson.dumps(item["result"]).decode()
        if len(text) > RESULT_CHARS:
            text = text[:RESULT_CHARS] + f"… ({len(text):,} characters; task_results shows all)"
        if used + len(text) > REVIEW_CHARS:
            text = "(not included: the prompt is full; read it with task_results)"
        used += len(text)
        shown.append(f"### {item['subtask_id']} ({item['type']}, {item['state']}, agent {item['agent_id']}, "
                     f"quality {item['quality']})\n{item['description']}\n\nResult:\n{text}"
                     + (f"\nReason: {item['reason']}" if item.get("reason") else ""))
    body = "\n\n".join(shown)
    return f"""Review task {task.id}, which has {task.state.value}{f" ({task.reason})" if task.reason else ""}.

<objective>
{task.description}
</objective>

Its {len(subs)} subtasks and their results:

{body}

Review the work as a whole: is each result correct and complete for its subtask, do the results fit together and
answer the objective, what is missing or contradictory, and what should be done next?
Give each subtask a quality from 0 to 1 with one line of reasons, then a short overall verdict."""
