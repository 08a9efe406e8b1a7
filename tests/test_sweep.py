"""Sweeps on a LocalCluster with 2 workers: completion, a real SIGKILL mid-way, failures, bad input."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wedges_lib import sweep

TINY = Path(__file__).parent / "chapters" / "tiny.py"


def sweep_cmd(out, *extra):
    return [sys.executable, "-m", "wedges_lib", "sweep", str(TINY), "--scale", "smoke", "--grid", "lr=0.1,0.2,0.3",
            "--seeds", "0-1", "--out", str(out), "--workers", "2", "--quiet", *extra]


def test_grid_completes_and_loads(tmp_path):
    p = subprocess.run(sweep_cmd(tmp_path / "store"), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    df = sweep.load(tmp_path / "store")
    assert len(df) == 6 and sorted(zip(df.lr, df.seed)) == [(lr, s) for lr in (0.1, 0.2, 0.3) for s in (0, 1)]
    assert (df.twice_lr == 2 * df.lr).all()
    again = subprocess.run(sweep_cmd(tmp_path / "store"), capture_output=True, text=True, timeout=600)
    assert "0 run, 6 already complete" in again.stdout


def test_sigkill_mid_sweep_then_rerun_completes_each_run_exactly_once(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen(sweep_cmd(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (store.exists() and any(sweep.is_complete(f) for f in store.iterdir())):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sum(sweep.is_complete(f) for f in store.iterdir())
    assert 1 <= done_before < 6, f"the kill should land mid-sweep; {done_before} runs were complete"
    # every folder that is visible is complete: half-written runs live only under hidden temporary names
    assert all(sweep.is_complete(f) for f in store.iterdir() if not f.name.startswith("."))
    p = subprocess.run(sweep_cmd(store), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    time.sleep(2.0)  # runs orphaned by the kill may still finish; they must not duplicate anything
    df = sweep.load(store)
    assert len(df) == 6 and df.run.is_unique
    assert sorted(zip(df.lr, df.seed)) == [(lr, s) for lr in (0.1, 0.2, 0.3) for s in (0, 1)]


def test_a_failing_run_is_reported_and_others_complete(tmp_path):
    cmd = sweep_cmd(tmp_path / "store")
    cmd[cmd.index("lr=0.1,0.2,0.3")] = "lr=0.1,5.0"
    cmd[cmd.index("0-1")] = "0"
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1
    assert "1 run, 0 already complete, 1 failed" in p.stdout and "too large" in p.stderr
    failed = [f for f in (tmp_path / "store").iterdir() if not sweep.is_complete(f)]
    assert len(failed) == 1 and (failed[0] / "notebook.ipynb").exists()
    assert json.loads((failed[0] / "status.json").read_text())["status"] == "failed"
    assert len(sweep.load(tmp_path / "store")) == 1


@pytest.mark.parametrize("extra, match", [
    (["--grid", "lr0.1"], "--grid.*NAME=V1,V2"),
    (["--grid", "no_such=1,2"], "unknown parameter 'no_such'"),
    (["--grid", "lr=-1"], "'lr'.*-1"),
    (["--seeds", "a-b"], "--seeds"),
])
def test_bad_grid_fails_before_anything_is_submitted(tmp_path, extra, match):
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "wedges_lib", "sweep", str(TINY), "--scale", "smoke", "--out", str(store), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    import re
    assert re.search(match, p.stderr), p.stderr
    assert not store.exists()
