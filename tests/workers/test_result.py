"""Claude Code's `--output-format json` output as a subtask outcome."""

from __future__ import annotations

import orjson

from swarm_mcp.workers import RunOutput, outcome_of

SUCCESS = {"type": "result", "subtype": "success", "is_error": False, "result": "All done.", "num_turns": 2,
           "duration_ms": 588, "total_cost_usd": 0.00077, "session_id": "s-1", "usage": {"input_tokens": 84}}


def run(stdout: bytes, exit_code: int | None = 0, stderr: bytes = b"", stopped: str | None = None) -> RunOutput:
    return RunOutput(exit_code, stdout, stderr, 1.23456, stopped)


def test_a_successful_run_gives_its_text_with_the_runs_cost_turns_and_duration_beside_it() -> None:
    outcome = outcome_of(run(b"\n" + orjson.dumps(SUCCESS) + b"\n"), max_result_bytes=1000)
    assert outcome.success and outcome.reason is None
    assert outcome.result == {"text": "All done.", "claude": {
        "num_turns": 2, "duration_ms": 588, "total_cost_usd": 0.00077, "session_id": "s-1", "subtype": "success",
        "seconds": 1.235}}


def test_an_error_result_fails_the_attempt_with_claudes_own_message() -> None:
    error = {**SUCCESS, "subtype": "success", "is_error": True, "api_error_status": 401, "result": "Invalid API key"}
    outcome = outcome_of(run(orjson.dumps(error), exit_code=1), max_result_bytes=1000)
    assert not outcome.success
    assert outcome.reason == "claude reported an error (exit code 1, success, API status 401): Invalid API key"


def test_no_json_result_fails_the_attempt_with_the_exit_code_and_the_end_of_stderr() -> None:
    stderr = b"boot\nError: unknown option --nope\n"
    outcome = outcome_of(run(b"not json", exit_code=2, stderr=stderr), max_result_bytes=1000)
    assert not outcome.success and outcome.result is None
    assert outcome.reason == ("claude exited with code 2 without a JSON result; its stderr ends: "
                              "boot\nError: unknown option --nope")
    silent = outcome_of(run(b"", exit_code=137), max_result_bytes=1000)
    assert silent.reason == "claude exited with code 137 without a JSON result and wrote nothing to stderr"


def test_a_stopped_run_fails_with_why_it_was_stopped() -> None:
    outcome = outcome_of(run(orjson.dumps(SUCCESS), exit_code=None, stopped="too much output"), max_result_bytes=1000)
    assert not outcome.success and outcome.reason == "too much output"


def test_a_result_over_the_limit_is_cut_on_a_character_boundary_and_says_so() -> None:
    outcome = outcome_of(run(orjson.dumps({**SUCCESS, "result": "é" * 100})), max_result_bytes=51)
    assert outcome.success
    assert outcome.result["text"] == "é" * 25
    assert outcome.result["claude"]["truncated"] is True and outcome.result["claude"]["full_characters"] == 100


def test_reasons_are_bounded() -> None:
    outcome = outcome_of(run(b"", exit_code=1, stderr=b"e" * 100_000), max_result_bytes=1000)
    assert outcome.reason is not None and len(outcome.reason) <= 2000
