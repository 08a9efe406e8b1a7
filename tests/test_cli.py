"""The run CLI end to end: a real papermill execution, and bad input rejected before anything runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "book" / "00_quickstart.py"


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "wedges_lib", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_run_leaves_notebook_and_metrics(tmp_path):
    out = tmp_path / "runs" / "demo"
    p = cli("run", str(QUICKSTART), "--scale", "smoke", "-p", "lr", "0.05", "--out", str(out), "--quiet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (out / "notebook.ipynb").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["lr"] == 0.05 and "quickstart_test_acc" in metrics
    assert json.loads((out / "params.json").read_text())["lr"] == 0.05
    assert json.loads((out / "status.json").read_text())["status"] == "complete"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


@pytest.mark.parametrize("args, match", [
    (["--scale", "huge"], "'scale'.*'huge'.*smoke"),
    (["-p", "lr", "-1"], "'lr'.*-1"),
    (["-p", "no_such", "1"], "unknown parameter 'no_such'"),
    (["-p", "steps", "many"], "'steps'.*'many'"),
])
def test_bad_parameters_fail_fast_with_one_line_and_no_folder(tmp_path, args, match):
    out = tmp_path / "runs" / "bad"
    p = cli("run", str(QUICKSTART), *args, "--out", str(out), cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), p.stderr
    import re
    assert re.search(match, lines[0]), lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_chapter_is_a_clear_error(tmp_path):
    p = cli("run", "book/nope.py", "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert p.returncode == 2 and "does not exist" in p.stderr


def test_wedges_data_naming_a_file_fails_in_one_line(tmp_path):
    (tmp_path / "data").write_text("")
    p = subprocess.run([sys.executable, "-m", "wedges_lib", "run", str(QUICKSTART), "--scale", "smoke", "--out",
                        str(tmp_path / "x")], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "WEDGES_DATA": str(tmp_path / "data")})
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert lines[0].startswith("error: WEDGES_DATA=") and "is a file, not a folder" in lines[0], lines[0]
    assert not (tmp_path / "x").exists()


def test_data_set_and_model_come_from_the_command_line(tmp_path):
    """`-p model cnn1d` runs on the default data; `-p dataset cifar10 -p model mlp` runs until the data is missing,
    and fails saying how to get it; an image model on sequences fails before anything runs."""
    env = {**os.environ, "WEDGES_OFFLINE": "1"}  # no download attempt in a test

    def run(out, *params):
        return subprocess.run([sys.executable, "-m", "wedges_lib", "run", str(QUICKSTART), "--scale", "smoke",
                               *params, "--out", str(tmp_path / out), "--quiet"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env=env)

    p = run("cnn", "-p", "model", "cnn1d")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "cnn" / "params.json").read_text())["model"] == "cnn1d"
    p = run("cifar", "-p", "dataset", "cifar10", "-p", "model", "mlp")
    assert p.returncode == 1 and "FileNotFoundError: cifar10 not found under" in p.stderr, p.stderr
    assert "download=True" in p.stderr and "WEDGES_DATA" in p.stderr, p.stderr
    p = run("resnet", "-p", "model", "resnet")
    assert p.returncode == 2 and "parameters 'dataset' and 'model': model 'resnet' takes images" in p.stderr, p.stderr
    assert not (tmp_path / "resnet").exists()


def test_failed_execution_keeps_notebook_and_is_marked_failed(tmp_path):
    chapter = tmp_path / "broken.py"
    chapter.write_text('# %% tags=["parameters"]\nscale = None\n\n# %%\nraise RuntimeError("boom")\n')
    out = tmp_path / "runs" / "broken"
    p = cli("run", str(chapter), "--scale", "smoke", "--out", str(out), "--quiet", cwd=tmp_path)
    assert p.returncode == 1 and "run failed" in p.stderr
    assert (out / "notebook.ipynb").is_file()
    assert json.loads((out / "status.json").read_text())["status"] == "failed"


def test_a_chapter_accepts_exactly_its_parameters_cell():
    """run/sweep validate against the chapter's own parameters cell (read with papermill), nothing executed."""
    from wedges_lib import sweep

    pairs = ROOT / "book" / "04_pairs_of_solutions.py"
    assert sweep.validate(pairs, "smoke", {"toy_D": 40})["toy_D"] == 40
    with pytest.raises(ValueError, match=r"unknown parameter 'no_such'.*valid parameters: .*curve_steps.*toy_D"):
        sweep.validate(pairs, "smoke", {"no_such": 1})
    with pytest.raises(ValueError, match="unknown parameter 'curve_steps' for 00_quickstart.py"):
        sweep.validate(QUICKSTART, "smoke", {"curve_steps": 3})  # a knob of another chapter
