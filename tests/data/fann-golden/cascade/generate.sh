#!/usr/bin/env bash
# Regenerate the Cascade2 golden files in this folder from C FANN 2.2.0 (see README.md one level up).
# Needs gcc and libfann-dev 2.2.0 (Debian: apt-get install -y gcc libfann-dev). Deterministic:
# the seeds go to glibc's srand(), and every phase is checked against the library's own loop.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/../../fann"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
gcc -O2 -Wall -Wextra -o "$build/make_cascade_golden" "$here/make_cascade_golden.c" -lfloatfann -lm
gcc -O2 -Wall -Wextra -o "$build/fann_cascade" "$here/../../../../bench/c/fann_cascade.c" -lfloatfann -lm
cd "$here"
rm -f ./*.json ./*.jsonl ./*.net
# data, algorithm, output activation (3 SIGMOID, 5 SIGMOID_SYMMETRIC), srand seed, max neurons, desired MSE, name
"$build/make_cascade_golden" "$data/parity8.train" quickprop 3 1 3 0.05 parity8_quickprop
"$build/make_cascade_golden" "$data/parity8.train" rprop 3 1 3 0.05 parity8_rprop
"$build/make_cascade_golden" "$data/building.train" rprop 5 1 2 0.001 building_rprop_sym
# C FANN's outcome over 300 seeds of the tasks tests/neural/test_cascade.py runs a few seeds of (two minutes)
for algorithm in quickprop rprop; do
  "$build/fann_cascade" "$data/parity8.train" "$algorithm" 3 6 0.05 1 300 \
    | sed 's/"seconds": [0-9.]*, //' > "parity8_${algorithm}_300_seeds.jsonl"  # timings are not golden
done
