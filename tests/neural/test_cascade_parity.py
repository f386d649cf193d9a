"""Cascade2 against C FANN 2.2.0, one step at a time, each step from C's own state.

The golden runs (tests/data/fann-golden/cascade, README there) record every phase of
`fann_cascadetrain_on_data` with the candidates' random draws, so every step here starts from
exactly what C had: its network, its initial candidate weights. Numbers are compared with
tolerances. Where training makes a discrete decision (when a phase stops, which candidate wins),
a tie within float rounding could go either way on another CPU, so the tests check the rule
instead: FANN's stop rule, replayed on C's recorded numbers, stops where C stopped, and replayed on
ours, stops where we stopped; and our winner is C's winner or scores within 1% of it in C's run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import FANN_DATA, FANN_GOLDEN

from swarm_mcp.neural import (
    Candidates,
    CascadeParams,
    CascadeReport,
    CascadeState,
    TrainData,
    cascade_install_candidate,
    cascade_network,
    cascade_start,
    cascade_train_candidates,
    cascade_train_on_data,
    cascade_train_outputs,
    format_net,
    read_data,
    read_net,
)

GOLDEN = FANN_GOLDEN / "cascade"
CASES = ("parity8_quickprop", "parity8_rprop", "building_rprop_sym")
REL = 1e-4  # output-training MSE traces, as the training parity tests (worst seen 4e-6)
EARLY = 20  # candidate epochs compared number by number, before float rounding compounds


@cache
def golden(case: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{case}.json").read_text())


@cache
def data(case: str) -> TrainData:
    return read_data(FANN_DATA / golden(case)["data"])


def start(case: str, net_file: str, cascade: CascadeParams | None = None) -> CascadeState:
    """C's network as a cascade state; every state of a case has the same capacity (compiles once)."""
    net = read_net(GOLDEN / net_file)
    if cascade is not None:
        net = net.replace(cascade=cascade)
    room = golden(case)["max_neurons"] - (net.layout.num_layers - 2)
    return cascade_start(net, data(case), max_neurons=room, key=jax.random.key(0))


def output_phases() -> list[tuple[str, int]]:
    """(case, round); round -1 is the final output training."""
    return [(c, k) for c in CASES for k in range(len(golden(c)["rounds"]))] + [(c, -1) for c in CASES]


def candidate_rounds() -> list[tuple[str, int]]:
    return [(c, k) for c in CASES for k, r in enumerate(golden(c)["rounds"]) if "candidates" in r]


def candidates(pool: Sequence[Sequence[float]], inputs: int) -> Candidates:
    rows = np.asarray(pool, np.float32)  # C's order per candidate: inputs, bias, hidden, then outputs
    return Candidates(jnp.asarray(rows[:, :inputs]), jnp.asarray(rows[:, inputs:]))


def fann_output_stop(mse: np.ndarray, desired: float, cp: CascadeParams) -> int:
    """fann_train_outputs' stop rule (FANN spec §2.6) replayed in float32 on a phase's epoch MSEs."""
    f = np.float32
    if mse[0] <= f(desired):
        return 1
    target, backslide, stagnation = f(0.0), f(-1.0e20), cp.max_out_epochs
    for i in range(1, cp.max_out_epochs):
        if mse[i] <= f(desired):
            return i + 1
        improvement = f(mse[0] - mse[i])
        if (target >= 0 and (improvement > target or improvement < backslide)) or (
            target < 0 and (improvement < target or improvement > backslide)
        ):
            target = f(improvement * f(1.0 + f(cp.output_change_fraction)))
            backslide = f(improvement * f(1.0 - f(cp.output_change_fraction)))
            stagnation = i + cp.output_stagnation_epochs
        if i >= stagnation and i >= cp.min_out_epochs:
            return i + 1
    return cp.max_out_epochs


def fann_candidate_stop(best: np.ndarray, sse: float, cp: CascadeParams) -> int:
    """fann_train_candidates' stop rule replayed in float32 on every epoch's best score."""
    f = np.float32
    target, backslide, stagnation = f(0.0), f(-1.0e20), cp.max_cand_epochs
    for i in range(cp.max_cand_epochs):
        score = f(best[i])
        if f(score / f(sse)) > f(cp.candidate_limit):
            return i + 1
        if score > target or score < backslide:
            target = f(score * f(1.0 + f(cp.candidate_change_fraction)))
            backslide = f(score * f(1.0 - f(cp.candidate_change_fraction)))
            stagnation = i + cp.candidate_stagnation_epochs
        if i >= stagnation and i >= cp.min_cand_epochs:
            return i + 1
    return cp.max_cand_epochs


@pytest.mark.parametrize(("case", "round_"), output_phases())
def test_output_training_follows_c_fann_epoch_by_epoch(case: str, round_: int) -> None:
    g = golden(case)
    phase = g["final"] if round_ < 0 else g["rounds"][round_]
    desired = 0.0 if round_ < 0 else g["desired_error"]
    c = phase["outputs"]
    state = start(case, phase["start"])
    _, ours = cascade_train_outputs(state, desired)
    epochs = int(ours.epochs)
    log = np.asarray(ours.mse_log)[:epochs]
    both = min(epochs, c["epochs"])
    np.testing.assert_allclose(log[:both], c["mse"][:both], rtol=REL, atol=1e-9)
    cp = state.network.cascade
    assert fann_output_stop(np.asarray(c["mse"], np.float32), desired, cp) == c["epochs"]  # the rule is C's
    assert fann_output_stop(log, desired, cp) == epochs  # and we apply it
    assert not np.isnan(log).any() and np.isnan(np.asarray(ours.mse_log)[epochs:]).all()


@pytest.mark.parametrize(("case", "round_"), candidate_rounds())
def test_candidate_scores_from_the_same_weights_match_c_fann(case: str, round_: int) -> None:
    """One epoch from C's initial candidates: every score (FANN spec §2.6 step 3), within float rounding."""
    r = golden(case)["rounds"][round_]
    c = r["candidates"]
    net = read_net(GOLDEN / r["trained"])
    state = start(case, r["trained"], net.cascade.replace(max_cand_epochs=1))
    state = state.replace(sse=jnp.float32(c["sse"]))
    assert int(state.used) == c["inputs"]
    ours = cascade_train_candidates(state, candidates(c["initial"], c["inputs"]))
    assert int(ours.epochs) == 1
    scores, want = np.asarray(ours.scores, np.float64), np.asarray(c["first_scores"])
    # a score is sse - Σdiff²: judge its rounding against the size of the terms it was made of
    assert np.abs(scores - want).max() <= 1e-5 * (c["sse"] + np.abs(want).max())


@pytest.mark.parametrize(("case", "round_"), candidate_rounds())
def test_candidate_training_follows_c_fann_and_picks_its_winner(case: str, round_: int) -> None:
    r = golden(case)["rounds"][round_]
    c = r["candidates"]
    state = start(case, r["trained"]).replace(sse=jnp.float32(c["sse"]))
    ours = cascade_train_candidates(state, candidates(c["initial"], c["inputs"]))
    epochs, cp = int(ours.epochs), state.network.cascade
    best = np.asarray(ours.best_log)[:epochs]
    early = np.abs(best[:EARLY] - np.asarray(c["best_score"][:EARLY]))
    assert early.max() <= 1e-5 * c["sse"] + 1e-3 * np.abs(c["best_score"][:EARLY]).max()
    assert fann_candidate_stop(np.asarray(c["best_score"], np.float32), c["sse"], cp) == c["epochs"]
    assert fann_candidate_stop(best, c["sse"], cp) == epochs
    assert abs(float(ours.scores[int(ours.best)]) - best[-1]) <= 1e-6 * c["sse"]
    theirs = np.asarray(c["last_scores"])
    assert theirs[int(ours.best)] >= theirs.max() - 0.01 * abs(theirs.max())


@pytest.mark.parametrize(("case", "round_"), candidate_rounds())
def test_installing_c_fanns_winner_gives_c_fanns_network_byte_for_byte(case: str, round_: int) -> None:
    """fann_install_candidate: a new layer, every earlier neuron as input, output weights × 0.4 in reverse."""
    g = golden(case)
    r = g["rounds"][round_]
    c = r["candidates"]
    after = g["rounds"][round_ + 1]["start"] if round_ + 1 < len(g["rounds"]) else g["final"]["start"]
    state = cascade_install_candidate(start(case, r["trained"]), candidates(c["trained"], c["inputs"]), c["best"][-1])
    assert format_net(cascade_network(state)) == (GOLDEN / after).read_text()


def test_a_whole_run_given_c_fanns_candidates_grows_what_c_fann_grew() -> None:
    """parity8, RPROP: C reaches MSE 0.05 in the output training after its first neuron."""
    g = golden("parity8_rprop")
    net = read_net(GOLDEN / g["rounds"][0]["start"])
    pools = [candidates(r["candidates"]["initial"], r["candidates"]["inputs"]) for r in g["rounds"][:-1]]
    reports: list[CascadeReport] = []
    result = cascade_train_on_data(
        net, data("parity8_rprop"), max_neurons=g["max_neurons"], desired_error=g["desired_error"],
        neurons_between_reports=1, callback=reports.append, key=jax.random.key(0), candidates=pools,
    )  # fmt: skip
    assert result.neurons_added == 1 == len(g["rounds"]) - 1 and result.reached
    c_epochs = np.cumsum([r["outputs"]["epochs"] + r.get("candidates", {}).get("epochs", 0) for r in g["rounds"]])
    assert [r.neurons for r in reports] == [0, 1]
    np.testing.assert_allclose([r.mse for r in reports], [r["outputs"]["mse"][-1] for r in g["rounds"]], rtol=1e-2)
    assert abs(reports[-1].epochs - c_epochs[-1]) <= 12  # one stagnation window
    assert result.mse <= g["desired_error"] and g["final"]["test_mse"] <= g["desired_error"]
    assert format_net(result.network).splitlines()[-2] == (GOLDEN / g["final"]["net"]).read_text().splitlines()[-2]
