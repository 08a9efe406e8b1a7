"""The library is traceable: its docstrings' examples are tests and the API appendix documents every module
(that every function a chapter calls names that chapter, and only such chapters, is tests/test_backlinks.py).

Every ``>>>`` example of every ``wedges_lib`` module runs here (doctest, ELLIPSIS and NORMALIZE_WHITESPACE
on); examples must be fast and deterministic (seeded, printed through ``.tolist()`` or rounded).
"""
import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import wedges_lib

MIN_DOCTESTS = 10  # docstrings with at least one example, over the whole library
ROOT = Path(__file__).resolve().parents[1]
MODULES = ["wedges_lib"] + sorted(  # subpackages too (wedges_lib.studies and its chapters' modules)
    m.name for m in pkgutil.walk_packages(wedges_lib.__path__, "wedges_lib.") if m.name != "wedges_lib.__main__"
)


def _doctests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name, module=module) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in _doctests(name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_enough_doctests():
    found = [t.name for name in MODULES for t in _doctests(name)]
    assert len(found) >= MIN_DOCTESTS, f"only {len(found)} docstrings with examples: {found}"


def test_api_page_lists_every_module():
    page = (ROOT / "book" / "99_api.md").read_text()
    sections = re.findall(r"^## `(\S+)`\n+```\{eval-rst\}\n\.\. automodule:: (\S+)\n", page, re.M)
    assert all(title == module for title, module in sections), [s for s in sections if s[0] != s[1]]
    documented = set(re.findall(r"^\.\. automodule:: (\S+)", page, re.M))
    assert len(sections) == len(documented), "every automodule has its own '## `module`' section"
    assert documented == set(MODULES), (
        f"book/99_api.md: missing {sorted(set(MODULES) - documented)}, stale {sorted(documented - set(MODULES))}")


def test_api_page_builds_clean(tmp_path):
    """The API appendix alone, built with -n (nitpicky) as the book is: no warning from any docstring.

    The chapters are left out (a full build executes them all), so the ``:ref:`ch-...``` links of the
    "Used in" lines cannot resolve here; instead each must name a chapter label that exists.
    """
    src = tmp_path / "src"
    src.mkdir()
    (src / "book").symlink_to(ROOT / "book")
    (src / "root.md").write_text("# Stand-in root\n")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"]["execute_notebooks"] = "off"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "toc.yml").write_text("format: jb-book\nroot: root\nchapters:\n  - file: book/99_api\n")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--config", str(tmp_path / "config.yml"),
         "--toc", str(tmp_path / "toc.yml"), "--path-output", str(tmp_path / "out"), "-n"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, log[-3000:]
    pages = sorted((ROOT / "book").glob("*.py")) + sorted((ROOT / "book").glob("*.md"))
    chapters = "\n".join(p.read_text() for p in pages)
    labels = set(re.findall(r"^(?:# )?\((ch-[\w-]+)\)=", chapters, re.M))  # a .py chapter's or a .md page's label
    problems = [line for line in log.splitlines() if re.search(r"WARNING|ERROR", line)
                and not re.search(r"undefined label: '(ch-[\w-]+)'", line)]
    problems += [f"unknown chapter label {label!r}" for label in
                 set(re.findall(r"undefined label: '(ch-[\w-]+)'", log)) - labels]
    assert not problems, "\n".join(problems)
    html = (tmp_path / "out" / "_build" / "html" / "book" / "99_api.html").read_text()
    assert 'id="wedges_lib.validation.check_arg"' in html  # autodoc did run
