"""Every chapter in book/ executes at the smoke scale through nbval: a new chapter needs no new test."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wedges_lib.notebook import to_ipynb

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found in book/"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_executes_at_smoke_scale(chapter, tmp_path):
    ipynb = tmp_path / f"{chapter.stem}.ipynb"
    to_ipynb(chapter, ipynb)
    env = {**os.environ, "WEDGES_SCALE": "smoke"}
    p = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                        f"--rootdir={tmp_path}", str(ipynb)],
                       cwd=chapter.parent, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"{chapter.name} failed at smoke scale:\n{p.stdout[-6000:]}\n{p.stderr[-2000:]}"
