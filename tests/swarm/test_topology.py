"""Topologies decide delegation, work sharing, failover and the edges knowledge may flow along."""

from __future__ import annotations

from swarm_mcp.swarm import Agent, can_take, edges, failover, neighbours


def agents(*types: str, coordinators: dict[int, int] | None = None) -> list[Agent]:
    out = [Agent(f"a{i}", "s", t, f"a{i}", (), "adaptive", 0.0, i) for i, t in enumerate(types)]
    for worker, boss in (coordinators or {}).items():
        out[worker].coordinator = f"a{boss}"
    return out


def test_a_star_links_every_agent_to_the_queen_and_agents_share_nothing() -> None:
    team = agents("coder", "tester", "reviewer")
    assert edges("star", team) == [("queen", "a0"), ("queen", "a1"), ("queen", "a2")]
    assert neighbours("star", team, "a0") == [] and not can_take("star", team, "a1", "a0")
    assert failover("star", team, "a0") is None  # back to the Queen, for anyone


def test_a_mesh_links_everyone_and_anyone_may_take_anyones_work() -> None:
    team = agents("coder", "coder", "coder")
    assert neighbours("mesh", team, "a1") == ["a0", "a2"] and can_take("mesh", team, "a2", "a0")


def test_a_ring_hands_work_to_the_successor_only() -> None:
    team = agents("coder", "tester", "reviewer", "documenter")
    assert neighbours("ring", team, "a0") == ["a1", "a3"]
    assert can_take("ring", team, "a1", "a0") and not can_take("ring", team, "a2", "a0")
    assert failover("ring", team, "a1") == ["a2", "a3", "a0"]


def test_a_hierarchy_keeps_work_sharing_and_failover_inside_a_team() -> None:
    team = agents("coordinator", "coordinator", "coder", "coder", "tester", coordinators={2: 0, 3: 0, 4: 1})
    assert ("a0", "a2") in edges("hierarchical", team) and ("queen", "a0") in edges("hierarchical", team)
    assert can_take("hierarchical", team, "a3", "a2") and not can_take("hierarchical", team, "a4", "a2")
    assert failover("hierarchical", team, "a2") == ["a3", "a0"]
    assert failover("hierarchical", team, "a0") == ["a1"]  # a coordinator's work goes to another coordinator
