"""ruv-swarm's users (and the instructions it writes for Claude) call these tools with these
camelCase arguments; each one works here, and answers from real state."""

from __future__ import annotations

from pathlib import Path

from support import call, mcp_client


async def test_the_ruv_swarm_tool_calls_work_with_their_camel_case_arguments(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        swarm = await call(client, "swarm_init", topology="mesh", maxAgents=5, strategy="balanced")
        researcher = (await call(client, "agent_spawn", type="researcher", name="Literature Review",
                                 capabilities=["search", "summarize"]))["agent"]
        await call(client, "agent_spawn", type="coder")
        await call(client, "agent_spawn", type="analyst")
        await call(client, "agent_spawn", type="optimizer")
        listed = await call(client, "agent_list", filter="all")
        task = (await call(client, "task_orchestrate", task="Research caching strategies and compare their hit rates",
                           strategy="parallel", priority="high", maxAgents=3))["task"]
        claim = await call(client, "task_claim")
        await call(client, "task_complete", taskId=claim["subtask_id"], result="LRU wins on this workload")
        status = await call(client, "task_status", taskId=task["task_id"], detailed=True)
        results = await call(client, "task_results", taskId=task["task_id"], format="summary")
        metrics = await call(client, "agent_metrics", agentId=claim["agent"]["agent_id"], metric="all")
        cpu = await call(client, "agent_metrics", metric="cpu")
        monitor = await call(client, "swarm_monitor", duration=0.2, interval=0.1)
        swarm_status = await call(client, "swarm_status", verbose=True)
        features = await call(client, "features_detect", category="all")
        simd = await call(client, "features_detect", category="simd")
        platform = await call(client, "features_detect", category="platform")
        memory = await call(client, "memory_usage", detail="summary")
        trained = await call(client, "neural_train", agentId=claim["agent"]["agent_id"], iterations=10)
        neural = await call(client, "neural_status", agentId=researcher["agent_id"])
        patterns = await call(client, "neural_patterns", pattern="all")
        bench = await call(client, "benchmark_run", type="swarm", iterations=2)
    assert swarm["swarm"]["max_agents"] == 5 and listed["count"] == 4
    assert status["task"]["analysis"]["task_type"] == "research" and len(task["allowed_agents"]) == 3
    assert results["results"][0]["result"] == "LRU wins on this workload"
    assert metrics["agents"][0]["tasks"]["done"] == 1 and cpu["agents"][0]["cpu"]["process_user_seconds"] > 0
    assert len(monitor["samples"]) >= 2 and swarm_status["swarms"][0]["agents"]["total"] == 4
    assert "swarm" in features and "model" in simd["cpu"] and "python" in str(platform["runtime"]).lower()
    assert memory["action"] == "stats" and len(trained["agents"]) == 1
    assert neural["agent"]["agent_id"] == researcher["agent_id"] and set(patterns["patterns"]) >= {"convergent", "lateral"}
    assert bench["suites"]["swarm"]["results"][0]["count"] == 2


async def test_the_ruv_swarm_daa_calls_work_with_their_argument_names_and_legacy_spellings(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        init = await call(client, "daa_init", enableLearning=True, enableCoordination=True, persistenceMode="auto")
        coder = await call(client, "daa_agent_create", id="adaptive-coder", cognitivePattern="adaptive",
                           capabilities=["fullstack-development"], learningRate=0.01, enableMemory=True)
        await call(client, "daa_agent_create", id="code-reviewer", cognitivePattern="critical",
                   capabilities=["code-analysis", "security-audit"])
        adapted = await call(client, "daa_agent_adapt", agent_id="adaptive-coder",
                             feedback="excellent code quality, optimize for performance", performanceScore=0.9,
                             suggestions=["profile the hot loop"])
        flow = await call(client, "daa_workflow_create", id="autonomous-development", name="Self-Organizing Development",
                          strategy="adaptive", steps=["autonomous-analysis", "adaptive-planning", "self-validation"],
                          dependencies={"adaptive-planning": ["autonomous-analysis"],
                                        "self-validation": ["adaptive-planning"]})
        run = await call(client, "daa_workflow_execute", workflow_id="autonomous-development",
                         agentIds=["adaptive-coder", "code-reviewer"], parallelExecution=True, timeout=0.1)
        shared = await call(client, "daa_knowledge_share", source_agent="adaptive-coder", target_agents=["code-reviewer"],
                            knowledgeDomain="performance", knowledgeContent={"insight": "cache the parser"})
        status = await call(client, "daa_learning_status", agentId="adaptive-coder", detailed=True)
        pattern = await call(client, "daa_cognitive_pattern", agent_id="code-reviewer", analyze=True)
        changed = await call(client, "daa_cognitive_pattern", agentId="code-reviewer", action="change", pattern="systems")
        metrics = await call(client, "daa_performance_metrics", category="all", timeRange="24h")
    assert init["settings"]["persistence_mode"] == "auto" and coder["agent"]["id"] == "adaptive-coder"
    assert adapted["after"]["loss"] < adapted["before"]["loss"] and flow["total_steps"] == 3
    assert run["task_id"] and run["steps"][0]["agent_id"] in {"adaptive-coder", "code-reviewer"}
    assert shared["targets"]["code-reviewer"]["entries_copied"] == 1
    assert status["agent"]["adaptations"] == 1 and pattern["pattern"] == "critical" and changed["after"] == "systems"
    assert metrics["neural"]["adaptations"]["count"] == 1 and metrics["system"]["tasks"]["created"] == 1
