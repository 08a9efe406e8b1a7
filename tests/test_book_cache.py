"""The book's execution cache re-executes a chapter when the library's code changes (not its comments), not only
when its own code does."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import wedges_lib

LIB = Path(wedges_lib.__file__).resolve().parent
BIN = Path(sys.executable).parent

_CHAPTER = textwrap.dedent("""\
    # %% [markdown]
    # # A one-cell chapter
    # %%
    import os, time
    from wedges_lib import params
    print("executed", time.time_ns(), file=open(os.environ["EXEC_LOG"], "a"))
    """)

_CONFIG = textwrap.dedent("""\
    title: cache test
    only_build_toc_files: true
    execute:
      execute_notebooks: cache
    sphinx:
      extra_extensions: [wedges_lib.notebook]
      config:
        nb_custom_formats:
          .py:
            - wedges_lib.notebook.reads
            - fmt: py:percent
    """)


def test_a_library_edit_re_executes_a_cached_chapter(tmp_path):
    copy = tmp_path / "lib" / "wedges_lib"
    shutil.copytree(LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(_CONFIG)
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n")
    (book / "intro.md").write_text("# Intro\n")
    (book / "chapter.py").write_text(_CHAPTER)
    log = tmp_path / "executions.log"
    env = {**os.environ, "PYTHONPATH": str(copy.parent), "EXEC_LOG": str(log)}

    def build() -> int:
        p = subprocess.run([str(BIN / "jupyter-book"), "build", str(book), "-W", "-n"], env=env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        return len(log.read_text().splitlines()) if log.exists() else 0

    assert build() == 1
    assert build() == 1  # nothing changed: served from the execution cache
    src = copy / "params.py"
    line = '    return torch.linalg.vector_norm(theta, dim=-1)'
    assert line in src.read_text()
    src.write_text(src.read_text().replace(line, line + '  # a comment, not code'))
    assert build() == 1  # a comment is not code: still served from the cache
    src.write_text(src.read_text().replace(line, line + ' * 1.0'))
    assert build() == 2  # the library's code changed: executed again
    html = (book / "_build" / "html" / "chapter.html").read_text()
    assert "wedges_lib source fingerprint" not in html  # the fingerprint cell is hidden


def test_chapters_run_in_parallel_into_the_cache_and_myst_nb_executes_nothing(tmp_path):
    """wedges_lib.execution executes the chapters two at a time before Sphinx reads them; the build then takes
    every one from the cache (myst-nb logs 'Using cached notebook'), and a second build executes nothing."""
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text(_CONFIG.replace("[wedges_lib.notebook]",
                                                      "[wedges_lib.notebook, wedges_lib.execution]"))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: a\n  - file: b\n")
    (book / "intro.md").write_text("# Intro\n")
    sleepy = _CHAPTER + "time.sleep(3)\n"  # both at once: the build's executions overlap in time
    for name in "ab":
        (book / f"{name}.py").write_text(sleepy.replace("# A one-cell chapter", f"# Chapter {name}"))
    log = tmp_path / "executions.log"
    env = {**os.environ, "EXEC_LOG": str(log), "WEDGES_BUILD_JOBS": "2"}

    def build() -> str:
        p = subprocess.run([str(BIN / "jupyter-book"), "build", str(book), "-W", "-n"], env=env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        return p.stdout

    out = build()
    assert "wedges: executing 2 chapter(s), 2 at a time" in out, out[-2000:]
    assert out.count("Using cached notebook") == 2 and "Executing notebook" not in out, out[-2000:]
    starts = sorted(int(line.split()[1]) for line in log.read_text().splitlines())
    assert len(starts) == 2 and starts[1] - starts[0] < 2.5e9, "the two chapters did not run at the same time"
    times = json.loads((book / "_build" / ".jupyter_cache" / "wedges-times.json").read_text())
    assert set(times) == {"a", "b"} and all(t >= 3 for t in times.values())
    cells = json.loads((book / "_build" / ".jupyter_cache" / "wedges-cells.json").read_text())
    assert {name: cells[name][0][1] for name in "ab"} == {"a": "import os, time", "b": "import os, time"}
    assert all(cells[name][0][0] >= 3 for name in "ab")  # the slowest cell of each, with its seconds
    out = build()
    assert "wedges: executing" not in out and len(log.read_text().splitlines()) == 2  # nothing executed again
