"""The DAA rules as pure functions: pattern switching, workflow definitions, time windows, the
held-out rule of brains, and what an agent's capabilities make it."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural_runtime import NeuralRuntime
from swarm_mcp.swarm import Brains, daa, performance, task_features, workflows


@pytest.mark.parametrize(("current", "scores", "expected"), [
    ("adaptive", [0.1, 0.1], "adaptive"),  # too few scores since the last switch
    ("adaptive", [0.1, 0.2, 0.3], "divergent"),  # struggling: explore
    ("divergent", [0.9, 0.1, 0.2, 0.3], "lateral"),  # already exploring: explore differently
    ("lateral", [0.0, 0.0, 0.0], "divergent"),
    ("critical", [0.8, 0.9, 0.7], "convergent"),  # mean 0.8: exploit
    ("systems", [0.5, 0.6, 0.4], "systems"),  # in between: keep
    ("convergent", [1.0, 1.0, 1.0], "convergent"),
])
def test_the_pattern_rule_explores_when_struggling_and_exploits_when_doing_well(
        current: str, scores: list[float], expected: str) -> None:
    assert daa.next_pattern(current, scores)[0] == expected


def test_capabilities_choose_the_agent_type_and_nothing_known_makes_a_researcher() -> None:
    assert daa.infer_type(["unit-tests", "qa"]) == "tester"
    assert daa.infer_type(["critique", "code-quality"]) == "reviewer"
    assert daa.infer_type(["code-analysis"]) == "coder"  # a tie goes to the earlier type
    assert daa.infer_type(["schema design", "systems"]) == "architect"
    assert daa.infer_type(["brainstorming"]) == "researcher"


def test_a_sequential_run_chains_steps_in_an_order_that_respects_the_dag() -> None:
    flow = workflows.define("w", "W", [{"id": "a", "dependsOn": ["c"]}, {"id": "b"}, {"id": "c"}], None, "sequential", 0.0)
    order = [s["id"] for s in workflows._topological(flow.steps)]
    assert order == ["b", "c", "a"] and flow.levels() == 2
    with pytest.raises(InvalidArgument, match="executor 'robot'"):
        workflows.define("w", "W", [{"id": "a", "executor": "robot"}], None, "parallel", 0.0)
    with pytest.raises(InvalidArgument, match="used twice"):
        workflows.define("w", "W", ["a", "a"], None, "parallel", 0.0)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604_800)])
def test_time_ranges_read_as_seconds(text: str, seconds: int) -> None:
    assert performance.window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "h", "0h", "400d", "-1h"])
def test_bad_time_ranges_say_the_form(text: str) -> None:
    with pytest.raises(InvalidArgument, match="unit s, m, h or d"):
        performance.window_seconds(text)


def test_every_fifth_finished_subtask_is_held_out_and_feedback_never_is(tmp_path: Path) -> None:
    brains = Brains(NeuralRuntime(tmp_path))  # bookkeeping only: JAX is never loaded
    brains.add_agent("s", "a")
    features = task_features("Implement the parser", "code", 3, 1)
    for _ in range(10):
        brains.record("s", "a", features, [1.0, 1.0, 0.5])
    facts = brains.agent("s", "a")
    assert facts["experiences"] == 10 and facts["held_out"] == 2 and facts["buffered"] == 6  # the newest 6 of 8
    rows = brains.domain_rows("s", "a", "code")
    assert len(rows.x) == 6 and len(rows.held_x) == 2 and len(brains.domain_rows("s", "a", "testing").x) == 0
    assert facts["untrained_experiences"] == 10  # held-out ones are nothing to train on, but nothing trained yet
    assert not brains.runtime.loaded
