"""The Queen's planning is pure and deterministic: type, complexity, graph shape, explicit plans, swarm design."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.swarm import FEATURES, TASK_TYPES, analyze, classify, design_swarm, find_cycle, plan_explicit, plan_task, task_features


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Implement a REST endpoint that returns the user's orders", "code"),
        ("Research vector databases and their query latency", "research"),
        ("Optimize the memory usage and latency of the search cache", "optimization"),
        ("Write unit tests and integration tests for the parser", "testing"),
        ("Review the pull request for security problems", "review"),
        ("Document the API in the README with a short tutorial", "documentation"),
        ("Design the architecture and database schema of the billing system", "architecture"),
        ("Analyze last month's metrics and find the trend in the data", "analysis"),
    ],
)
def test_the_task_type_comes_from_the_texts_hashed_keyword_features(text: str, expected: str) -> None:
    assert analyze(text).task_type == expected
    assert classify(text)[0] == expected


def test_text_without_any_keyword_is_treated_as_research_and_says_so() -> None:
    analysis = analyze("hello there")
    assert analysis.task_type == "research" and "no task-type keywords" in analysis.reasons[0]


def test_longer_texts_with_more_clauses_and_scale_words_are_more_complex() -> None:
    small = analyze("fix the login bug")
    large = analyze("Design a scalable distributed system for the entire platform: ingest events, store them, "
                    "expose a query API, monitor latency and write the operations manual")
    assert small.complexity < large.complexity <= 10
    assert len(large.parts) >= 4 and len(small.parts) == 1


def test_a_parallel_plan_fans_out_over_the_parts_and_joins_again() -> None:
    text = "Research Postgres, research MySQL, research SQLite and compare their write throughput"
    plan = plan_task(analyze(text), "parallel", text)
    roots = [s for s in plan.subtasks if not s.depends_on]
    joins = [s for s in plan.subtasks if len(s.depends_on) > 1]
    assert plan.shape == "fan-out/fan-in" and len(roots) >= 3
    assert joins and set(joins[0].depends_on) == {r.key for r in roots}


def test_a_sequential_plan_is_a_chain_in_template_order() -> None:
    text = "Build a CLI that converts CSV files to JSON and handles quoted fields"
    plan = plan_task(analyze(text), "sequential", text)
    assert plan.shape == "chain" and len(plan.subtasks) >= 2
    for before, after in zip(plan.subtasks, plan.subtasks[1:]):
        assert after.depends_on == (before.key,)


def test_a_simple_task_is_one_subtask_and_a_complex_one_gets_every_phase() -> None:
    assert len(plan_task(analyze("fix the login bug"), "adaptive").subtasks) == 1
    big = "Implement the full production payment service with retries, idempotency keys and audit logs for all partners"
    types = [s.type for s in plan_task(analyze(big), "adaptive", big).subtasks]
    assert types[0] == "architecture" and "code" in types and types[-1] == "review"


def test_a_part_that_names_another_kind_of_work_becomes_that_kind_of_subtask() -> None:
    text = "Build a REST API for todos, then write its docs"
    plan = plan_task(analyze(text), "parallel", text)
    assert {s.type for s in plan.subtasks[:2]} == {"code", "documentation"}
    assert any("is documentation" in reason for reason in plan.reasons)


@settings(deadline=None, max_examples=50)
@given(st.text(min_size=1, max_size=300), st.sampled_from(["parallel", "sequential", "adaptive"]))
def test_any_text_gives_the_same_acyclic_plan_every_time(text: str, strategy: str) -> None:
    first = plan_task(analyze(text), strategy, text)
    again = plan_task(analyze(text), strategy, text)
    assert first == again
    keys = [s.key for s in first.subtasks]
    assert find_cycle({s.key: list(s.depends_on) for s in first.subtasks}) is None
    assert all(d in keys[: keys.index(s.key)] for s in first.subtasks for d in s.depends_on)


def test_an_explicit_plan_is_validated_and_a_cycle_is_named() -> None:
    plan = plan_explicit([{"id": "a", "description": "design it"},
                          {"id": "b", "description": "implement the parser", "dependsOn": ["a"]}])
    assert [(s.key, s.depends_on) for s in plan.subtasks] == [("a", ()), ("b", ("a",))]
    assert plan.subtasks[1].type == "code"
    with pytest.raises(InvalidArgument, match="cycle: a -> c -> b -> a"):
        plan_explicit([{"id": "a", "description": "x", "dependsOn": ["c"]}, {"id": "b", "description": "y", "dependsOn": ["a"]},
                       {"id": "c", "description": "z", "dependsOn": ["b"]}])
    with pytest.raises(InvalidArgument, match="unknown subtask"):
        plan_explicit([{"id": "a", "description": "x", "dependsOn": ["nope"]}])
    with pytest.raises(InvalidArgument, match="used twice"):
        plan_explicit([{"id": "a", "description": "x"}, {"id": "a", "description": "y"}])
    with pytest.raises(InvalidArgument, match="non-empty description"):
        plan_explicit([{"id": "a", "description": " "}])


def test_find_cycle_finds_a_self_dependency_and_nothing_in_a_dag() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_the_queen_designs_a_pipeline_as_a_ring_and_a_big_objective_as_a_hierarchy() -> None:
    ring = design_swarm("Parse the logs, then aggregate the errors, then write a report", 8)
    hierarchy = design_swarm("Design a scalable distributed system for the entire platform: ingest events, store "
                             "them in a database, expose a query API, monitor latency and write the manual", 12)
    small = design_swarm("fix the login bug", 8)
    assert ring.topology == "ring" and any("pipeline" in r for r in ring.reasons)
    assert hierarchy.topology == "hierarchical" and ("coordinator", 2) in hierarchy.agents
    assert small.topology == "star" and small.agents == (("coder", 1),)
    assert sum(n for _, n in design_swarm("Design a scalable platform: a, b c, d e, f g, h i", 3).agents) <= 3


def test_task_features_are_bounded_and_carry_the_type() -> None:
    features = task_features("Implement the parser", "code", 4, 2)
    assert len(features) == FEATURES and all(-1.0 <= f <= 1.0 for f in features)
    one_hot = features[FEATURES - len(TASK_TYPES) - 3: FEATURES - 3]
    assert one_hot[TASK_TYPES.index("code")] == 1.0 and sum(one_hot) == 1.0
