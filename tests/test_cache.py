"""wedges_lib.cache: keys derived from what a computation reads and from the library's source; never stale."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import wedges_lib
from wedges_lib import cache, config

LIB = Path(wedges_lib.__file__).resolve().parent


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("WEDGES_DATA", str(tmp_path))
    monkeypatch.delenv("WEDGES_NO_CACHE", raising=False)
    return tmp_path


def _counting():
    calls = []

    def compute(c, offset=0):
        calls.append(1)
        return {"x": torch.arange(3) * c.lr + offset}
    return compute, calls


def test_computes_once_then_loads(store):
    compute, calls = _counting()
    cfg = config.resolve("smoke")
    a = cache.cached("thing", cfg, compute)
    b = cache.cached("thing", cfg, compute)
    assert torch.equal(a["x"], b["x"]) and len(calls) == 1


def test_a_parameter_the_computation_reads_changes_the_key(store):
    compute, calls = _counting()
    cache.cached("thing", config.resolve("smoke", lr=0.1), compute)
    cache.cached("thing", config.resolve("smoke", lr=0.2), compute)
    assert len(calls) == 2


def test_a_parameter_it_does_not_read_does_not(store):
    compute, calls = _counting()
    cache.cached("thing", config.resolve("smoke", steps=10), compute)
    cache.cached("thing", config.resolve("smoke", steps=20), compute)
    assert len(calls) == 1


def test_inputs_are_part_of_the_key_by_content(store):
    compute, calls = _counting()
    cfg = config.resolve("smoke")
    cache.cached("thing", cfg, compute, offset=torch.ones(3))
    cache.cached("thing", cfg, compute, offset=torch.ones(3))
    cache.cached("thing", cfg, compute, offset=torch.zeros(3))
    assert len(calls) == 2


def test_the_computations_own_code_is_part_of_the_key(store):
    cfg = config.resolve("smoke")
    assert cache.cached("thing", cfg, lambda c: c.lr * 2) == pytest.approx(2 * cfg.lr)
    assert cache.cached("thing", cfg, lambda c: c.lr * 3) == pytest.approx(3 * cfg.lr)


def test_reading_everything_keys_on_everything(store):
    calls = []
    compute = lambda c: calls.append(1) or len(dict(c))  # noqa: E731
    cache.cached("all", config.resolve("smoke"), compute)
    cache.cached("all", config.resolve("smoke", steps=11), compute)
    assert len(calls) == 2


def test_no_cache_env_recomputes(store, monkeypatch):
    compute, calls = _counting()
    cfg = config.resolve("smoke")
    cache.cached("thing", cfg, compute)
    monkeypatch.setenv("WEDGES_NO_CACHE", "1")
    cache.cached("thing", cfg, compute)
    assert len(calls) == 2


def _lib_copy(tmp_path):
    copy = tmp_path / "wedges_lib"
    shutil.copytree(LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _fingerprint(copy):
    return cache.library_fingerprint.__wrapped__(str(copy))  # uncached: the folder's files change


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_library_fingerprint_follows_the_source(tmp_path):
    copy = _lib_copy(tmp_path)
    before = cache.library_fingerprint(str(copy))
    assert before == _fingerprint(LIB)
    _edit(copy / "params.py", '    return torch.linalg.vector_norm(theta, dim=-1)',
          '    return torch.linalg.vector_norm(theta, dim=-1) * 1.0')
    assert _fingerprint(copy) != before


def test_library_fingerprint_ignores_docstrings_and_comments(tmp_path):
    copy = _lib_copy(tmp_path)
    before = _fingerprint(copy)
    src = copy / "params.py"
    text = src.read_text()
    first_line = text.splitlines()[0]
    assert first_line.startswith('"""')  # the module docstring
    _edit(src, first_line, first_line + " Reworded, at length.")
    _edit(src, '    return torch.linalg.vector_norm(theta, dim=-1)',
          '    # a new comment\n    return torch.linalg.vector_norm(theta, dim=-1)  # and another')
    cache_src = copy / "cache.py"  # a function's docstring too
    _edit(cache_src, '    """torch.save ``obj``', '    """Saves: torch.save ``obj``')
    assert src.read_text() != text
    assert _fingerprint(copy) == before


def test_library_fingerprint_reads_subpackages(tmp_path):
    copy = _lib_copy(tmp_path)
    studies = copy / "probe"  # a new subpackage (wedges_lib.studies exists already)
    studies.mkdir()
    (studies / "__init__.py").write_text('"""A probe."""\n')
    (studies / "x.py").write_text('"""A study."""\nWIDTH = 3\n\n\ndef width():\n    return WIDTH\n')
    before = _fingerprint(copy)
    _edit(studies / "x.py", "WIDTH = 3", "WIDTH = 4")
    assert _fingerprint(copy) != before
    _edit(studies / "x.py", "WIDTH = 4", "WIDTH = 3")
    assert _fingerprint(copy) == before
    (studies / "x.py").rename(studies / "y.py")  # the same code under another name is another library
    assert _fingerprint(copy) != before


_SCRIPT = textwrap.dedent("""
    import sys
    from wedges_lib import cache, config, params
    import torch
    calls = []
    def compute(c):
        calls.append(1)
        return params.radius(torch.ones(4) * c.lr)
    value = cache.cached("radius", config.resolve("smoke"), compute)
    print(len(calls), float(value))
""")


def test_editing_a_library_function_recomputes_a_cached_result(tmp_path):
    """End to end, in fresh processes: same code -> loaded; a library function's body edited -> recomputed."""
    copy = tmp_path / "lib" / "wedges_lib"
    shutil.copytree(LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(copy.parent), "WEDGES_DATA": str(tmp_path / "data")}
    env.pop("WEDGES_NO_CACHE", None)
    run = lambda: subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,  # noqa
                                 check=True, cwd=tmp_path).stdout.split()
    first, second = run(), run()
    assert first[0] == "1" and second == ["0", first[1]]  # computed once, then served
    src = copy / "params.py"
    src.write_text(src.read_text().replace('    return torch.linalg.vector_norm(theta, dim=-1)',
                                           '    return 2 * torch.linalg.vector_norm(theta, dim=-1)'))
    third = run()
    assert third[0] == "1" and float(third[1]) == pytest.approx(2 * float(first[1]))  # recomputed, new code


def test_a_corrupt_result_is_recomputed(store):
    compute, calls = _counting()
    cfg = config.resolve("smoke")
    cache.cached("thing", cfg, compute)
    (path,) = (store / "results").glob("thing-*.pt")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.warns(UserWarning, match="corrupt"):
        cache.cached("thing", cfg, compute)
    assert len(calls) == 2
