"""CI is explicit: `.ci/run` sets CI=1 and shows skips, and under CI a missing requirement
(Node.js for the external clients, C FANN for the interop test, Chromium for the dashboard's
browser test) fails instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT


def test_ci_run_exports_ci_and_asks_pytest_for_the_skip_summary(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/bin/sh\necho "CI=$CI ARGS=$*"\n')  # stands in for the suite
    (fake / "python3").chmod(0o755)
    (fake / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: no apt-get here
    (fake / "id").chmod(0o755)
    done = subprocess.run(["bash", str(REPO_ROOT / ".ci" / "run")], env={"PATH": f"{fake}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "CI=1 ARGS=scripts/dev.py test -rs"


def _pytest(*args: str, ci: bool, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        environ["CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
                          env={**environ, **env}, capture_output=True, text=True, timeout=300, cwd=str(REPO_ROOT))


@pytest.mark.parametrize("ci", [False, True])
def test_without_c_fann_the_interop_test_skips_but_fails_under_ci(ci: bool) -> None:
    done = _pytest("tests/neural/test_c_interop.py", ci=ci, SWARM_MCP_TEST_FANN_LIB="none")
    assert "apt-get install libfann-dev" in done.stdout
    if ci:
        assert done.returncode == 1 and "1 error" in done.stdout and "CI is set" in done.stdout
    else:
        assert done.returncode == 0 and "SKIPPED" in done.stdout and "1 skipped" in done.stdout


def test_without_node_the_external_client_tests_fail_under_ci() -> None:
    done = _pytest("tests/external/test_inspector.py", "-x", ci=True, PATH=str(Path(sys.executable).parent))
    assert done.returncode == 1 and "node, npm, npx not on PATH" in done.stdout and "CI is set" in done.stdout


@pytest.mark.parametrize("ci", [False, True])
def test_without_chromium_the_browser_test_skips_but_fails_under_ci(ci: bool) -> None:
    done = _pytest("tests/dashboard/test_browser.py", ci=ci, SWARM_MCP_TEST_CHROMIUM="none")
    assert "apt-get install chromium" in done.stdout
    if ci:
        assert done.returncode == 1 and "CI is set" in done.stdout
    else:
        assert done.returncode == 0 and "1 skipped" in done.stdout
