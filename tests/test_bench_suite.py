"""The benchmark suite's frame (benchmarks.suite, benchmarks.common): flags per device, saved runs written and
read back, their tables, and each benchmark run as a module of the package. The benchmarks themselves run in the
book's appendix (book/91_benchmarks.py)."""
import json

import pytest

from benchmarks import suite
from benchmarks.common import Row, run_child

ROW = Row(task="K=8 MLPs", unit="s", wedges=1.0, peer="one after another", peer_value=2.5, goal=">= 3",
          agreement=0.01, agreement_is="max |Δθ|", tolerance=0.05, ratio_lo=2.0, ratio_hi=2.7, peak_fraction=0.5)


def test_flags_per_device():
    assert suite.names_for("cpu") == suite.NAMES and suite.names_for("cuda") == suite.GPU
    assert suite.args_for("curvature", quick=True) == ["--quick", "--no-scipy", "--device", "cpu"]
    assert suite.args_for("align", quick=True) == ["--quick"]  # a CPU-only benchmark takes no --device
    assert suite.args_for("surfaces", device="cuda") == ["--device", "cuda"]
    with pytest.raises(ValueError, match="'device'.*'cpu' or 'cuda'"):
        suite.names_for("tpu")
    with pytest.raises(ValueError, match="'name'.*ensemble, curvature"):
        suite.args_for("plane")


def test_saved_run_round_trip(tmp_path):
    path = suite.save({"surfaces": [ROW], "ensemble": [ROW]}, device="cpu", quick=True, directory=tmp_path)
    assert path.parent == tmp_path and path.suffix == ".json"
    (run,) = suite.saved(tmp_path)
    assert run["device"] == suite.machine("cpu") and run["quick"] is True and len(run["date"]) == 10
    assert run["commit"]  # the short hash, or "unknown" outside a git checkout
    assert list(run["benchmarks"].items()) == [("ensemble", [ROW]), ("surfaces", [ROW])]  # the suite's order
    speed, checks = (t.to_html() for t in suite.tables("ensemble", run["benchmarks"]["ensemble"]))
    assert "2.50" in speed and "2.00–2.70" in speed and "no" in speed  # ratio, its range, goal missed
    assert "5.00" in checks and "5.00" not in speed  # ratio at peak: 2.5 / 0.5, with the evidence


def test_saved_run_errors_name_the_file(tmp_path):
    assert suite.saved(tmp_path / "none") == []
    bad = tmp_path / "gpu.json"
    bad.write_text(json.dumps({"device": "x", "date": "2026-01-01", "torch": "2", "commit": "abc", "quick": False,
                               "benchmarks": {"ensemble": [dict(ROW.to_dict(), ratio=9.0)]}}))
    with pytest.raises(ValueError, match="gpu.json is not a saved benchmark run: .*ratio 9.0"):
        suite.saved(tmp_path)
    bad.write_text(json.dumps({"device": "x", "benchmarks": {}}))
    with pytest.raises(ValueError, match=r"gpu.json .*missing \['commit', 'date', 'quick', 'torch'\]"):
        suite.saved(tmp_path)
    bad.write_text(json.dumps({"device": "x", "date": "2026-01-01", "torch": "2", "commit": "abc", "quick": False,
                               "benchmarks": {"planes": []}}))
    with pytest.raises(ValueError, match=r"unknown benchmarks \['planes'\] \(known: ensemble"):
        suite.saved(tmp_path)


def test_benchmarks_run_as_modules_of_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository root: the children still import the package
    with pytest.raises(RuntimeError, match=r"python -m benchmarks.align --bogus failed \(exit 2\)(.|\n)*"
                                           r"usage: python -m benchmarks.align(.|\n)*unrecognized arguments: --bogus"):
        suite.run("align", ["--bogus"])
    out = run_child("import json, sys\nprint(json.dumps({'rss': peak_rss(), 'argv': sys.argv[1:]}))", ["x"])
    assert out["rss"] > 0 and out["argv"] == ["x"]
