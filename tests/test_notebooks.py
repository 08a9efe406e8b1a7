"""Every chapter in book/ executes at the smoke scale (papermill, as `python -m wedges_lib run` does) and
records the verdicts that tests/expected_verdicts.json expects: a changed verdict fails here until that
file changes in the same commit, visibly in review. A new chapter needs no new test, only its entry."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))
EXPECTED = json.loads((Path(__file__).parent / "expected_verdicts.json").read_text())


def run(chapter: Path, out: Path, *params: str) -> dict:
    """Run a chapter at the smoke scale into ``out``; its metrics (the run must complete)."""
    env = {**os.environ, "WEDGES_SCALE": "smoke"}
    p = subprocess.run([sys.executable, "-m", "wedges_lib", "run", str(chapter), "--scale", "smoke", "--quiet",
                        "--out", str(out), *params], env=env, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, f"{chapter.name} failed at smoke scale:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return json.loads((out / "metrics.json").read_text())


def verdicts(metrics: dict) -> dict:
    return {k.removesuffix("_verdict"): v for k, v in metrics.items() if k.endswith("_verdict")}


def test_there_are_chapters_and_each_has_expected_verdicts():
    assert CHAPTERS, "no chapters found in book/"
    assert sorted(EXPECTED) == sorted(c.stem for c in CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_gives_its_expected_verdicts_at_smoke_scale(chapter, tmp_path):
    got = verdicts(run(chapter, tmp_path / "run"))
    assert got == EXPECTED[chapter.stem], f"{chapter.name}: verdicts changed; update tests/expected_verdicts.json " \
                                          f"in the same commit if this is intended.\ngot {json.dumps(got, indent=1)}"


def test_removing_the_phenomenon_gives_not_reproduced_recorded_and_rendered(tmp_path):
    """Untrained curves (one step: the straight line itself) must not pass for low-loss curves."""
    out = tmp_path / "untrained"
    got = verdicts(run(ROOT / "book" / "04_pairs_of_solutions.py", out, "-p", "curve_steps", "1"))
    assert got["pairs_curves"] == "not reproduced" and got["pairs_connector"] == "not reproduced", got
    assert got["pairs_line"] == "reproduced", "the barrier on the line does not depend on the curves"
    shown = json.dumps(json.loads((out / "notebook.ipynb").read_text())["cells"])
    assert "check pairs_curves: not reproduced" in shown  # the check cell's printed verdict
    assert "\\u2718 not reproduced" in shown or "✘ not reproduced" in shown  # the glued badge the prose shows
