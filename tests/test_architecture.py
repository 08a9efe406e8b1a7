"""The library's shape: one parameter registry, no import cycles, no oversized modules."""
import ast
from pathlib import Path

import wedges_lib

LIB = Path(wedges_lib.__file__).resolve().parent
MAX_LINES = 450


def _imports(path: Path) -> set[str]:
    """The wedges_lib modules imported by one module (relative or absolute, at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 and not base:  # from . import a, b
                found |= {a.name for a in node.names}
            elif node.level == 1 or base.startswith("wedges_lib."):
                found.add(base.removeprefix("wedges_lib.").split(".")[0])
            elif base == "wedges_lib":
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("wedges_lib.")}
    return {m for m in found if (LIB / f"{m}.py").exists()} - {path.stem}


GRAPH = {p.stem: _imports(p) for p in LIB.glob("*.py")}


def test_no_import_cycles():
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in GRAPH.get(m, ()):
            assert state.get(n) != 1, f"import cycle: {' -> '.join(stack + [m, n])}"
            if n not in state:
                visit(n, stack + [m])
        state[m] = 2

    for m in GRAPH:
        if m not in state:
            visit(m, [])


def test_the_bottom_layer_imports_nothing_above_it():
    bottom = {"validation", "presets", "config", "params", "models", "batchnorm"}
    for m in bottom:
        assert GRAPH[m] <= bottom, f"{m} imports {GRAPH[m] - bottom}"


def test_parameters_are_registered_in_one_place():
    for path in LIB.glob("*.py"):
        text = path.read_text()
        assert "register(" not in text, f"{path.name} registers parameters"
        assert "importlib" not in text, f"{path.name} imports modules by name"


def test_no_module_is_oversized():
    big = {p.name: n for p in LIB.glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def _study_imports(path: Path) -> set[str]:
    """The chapter studies (wedges_lib.studies.chNN_*) one module imports, in any import form."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if base.startswith(("studies", "wedges_lib.studies")) or (node.level and base.startswith("studies")):
                found.add(base.split(".")[-1])
            if base in ("studies", "wedges_lib.studies") or (node.level == 1 and not base):
                found |= {a.name for a in node.names if a.name.startswith("ch")}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[-1] for a in node.names if a.name.startswith("wedges_lib.studies.")}
    return {m for m in found if m.startswith("ch")}


def test_engines_never_import_a_study_and_studies_never_each_other():
    top = {"sweep", "__main__", "notebook"}  # the runner may check a chapter's inputs through its study
    for path in LIB.glob("*.py"):
        if path.stem not in top:
            assert not _study_imports(path), f"{path.name} imports a study: {_study_imports(path)}"
    studies = sorted((LIB / "studies").glob("ch*.py"))
    assert len(studies) >= 7, [p.name for p in studies]
    for path in studies:
        assert not _study_imports(path) - {path.stem}, f"{path.name} imports {_study_imports(path)}"
        assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name} is oversized"


BOOK = LIB.parent / "book"
MAX_LINE = 120  # characters, in any file of book/


def test_chapters_read_as_prose():
    """No line of book/ over MAX_LINE characters, and captions in the chapter's markdown ({glue:figure}), not in
    cell metadata (tests/test_config.py keeps a chapter's code cells short)."""
    import jupytext

    long = [f"{p.name}:{i}" for p in sorted(BOOK.glob("*")) if p.suffix in (".py", ".md", ".bib")
            for i, line in enumerate(p.read_text().splitlines(), 1) if len(line) > MAX_LINE]
    assert not long, f"lines over {MAX_LINE} characters: {long}"
    for path in sorted(BOOK.glob("[0-9]*.py")):
        nb = jupytext.read(path)
        captioned = [c.source.splitlines()[0] for c in nb.cells if "figure" in c.metadata.get("mystnb", {})]
        assert not captioned, f"{path.name}: a caption in cell metadata (write a {{glue:figure}}): {captioned}"
