"""Chapters as notebooks: reading a jupytext percent-format chapter for the book and for papermill.

:func:`reads` is the book's reader (``nb_custom_formats`` in ``_config.yml``): jupytext's reader plus one
hidden code cell that holds :func:`wedges_lib.cache.library_fingerprint`. Jupyter Book's execution cache
hashes the code cells, so a change to the library's code (not to its docstrings or comments) re-executes every
chapter, as a change to the chapter's own code does; the book never shows numbers computed by older library
code. Listed as a Sphinx extension too (:func:`setup`), it makes the fingerprint a configuration value, so Sphinx
re-reads every page (and so calls :func:`reads` again) when the library changed even though no chapter file did.
The extension also serves MathJax 3 with the book (copied from the ``django-static-mathjax`` package into
``_static/mathjax``, so the maths is typeset offline, with no CDN) and gives every chapter page a download button
for its executed notebook (``.ipynb``) beside its ``.py`` source, and a role, ``{verdict-tally}``, that the intro
uses for this build's count of verdicts by kind and state across every chapter (:func:`tally_text`), and a
directive, ``{protocol-table}``, that writes the intro's tables of claims and checks from the protocol
(:func:`wedges_lib.protocol.overview`), so they follow every change to it.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from .cache import library_fingerprint

FINGERPRINT_PREFIX = "# wedges_lib source fingerprint: "


def reads(text: str, fmt: str | dict | None = None) -> nbformat.NotebookNode:
    """The notebook of a chapter's text (jupytext ``fmt``, e.g. 'py:percent'), with the library-fingerprint cell."""
    import jupytext

    nb = jupytext.reads(text, fmt=fmt)
    cell = nbformat.v4.new_code_cell(FINGERPRINT_PREFIX + library_fingerprint(),
                                     metadata={"tags": ["remove-cell"]})
    cell.id = "wedges-lib-fingerprint"  # deterministic: the cell is the same whenever the library is
    nb.cells.append(cell)
    return nb


MATHJAX_PATH = "mathjax/tex-chtml.js"  # relative to the book's _static folder
# what MathJax 3's tex-chtml component loads on demand: extensions, fonts, the menu and its accessibility tools
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors", "sre")


def mathjax_source() -> Path:
    """The folder of MathJax 3's ``es5`` build shipped by the ``django-static-mathjax`` package (import ``mathjax``)."""
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax 3 not found in {es5}: pip install -r requirements.txt "
                                f"(django-static-mathjax ships it)")
    return es5


def _local_mathjax(app, config) -> None:
    config.mathjax_path = MATHJAX_PATH  # Sphinx loads it from _static: the book's maths needs no network


def _copy_mathjax(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part, dirs_exist_ok=True)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / part, dest / part)


def _notebook_download(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A chapter page's download menu (sphinx-book-theme) offers the executed notebook as ``.ipynb``."""
    if context.get("page_source_suffix") not in (getattr(app.config, "nb_custom_formats", None) or {}):
        return
    from myst_nb.sphinx_ext import OUTPUT_FOLDER

    executed = Path(app.outdir).parent / OUTPUT_FOLDER / f"{pagename}.ipynb"
    if executed.is_file():
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed, target)
        context["ipynb_source"] = f"{pagename}.ipynb"


class _Tally(nodes.inline):
    """Where the book's tally of verdicts goes (the ``verdict-tally`` role); filled by :class:`_FillTally`."""


def _tally_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [_Tally(rawtext, "")], []


def tally_text(glue_folder: Path) -> str:
    """The verdicts of every executed chapter, counted by kind and state, in words: read from the
    ``protocol_tally`` each chapter records (:func:`wedges_lib.protocol.conclude`) in the glue files myst-nb writes
    into ``glue_folder``."""
    import ast
    import json

    from .verdicts import ICONS, KINDS, STATES

    total = {k: dict.fromkeys(STATES, 0) for k in KINDS}
    chapters = 0
    for path in sorted(Path(glue_folder).rglob("*.glue.json")):
        out = json.loads(path.read_text()).get("protocol_tally")
        if out is None:
            continue
        chapters += 1
        counts = json.loads(ast.literal_eval(out["data"]["text/plain"]))
        for kind, by_state in counts.items():
            for state, n in by_state.items():
                total[kind][state] += n
    if not chapters:
        return "no chapter recorded its verdicts in this build."
    primary = total["primary"]
    states = ", ".join(f"{primary[s]} {ICONS[s]} {s}" for s in STATES)
    sanity = total["sanity"]
    others = {k: sum(total[k].values()) for k in ("control", "toy")}
    return (f"{sum(primary.values())} primary checks judged in {chapters} chapters: {states}; "
            f"{sanity['reproduced']} of {sum(sanity.values())} sanity checks passed; beside them "
            f"{others['control']} control and {others['toy']} toy checks.")


class _FillTally(SphinxPostTransform):
    default_priority = 10  # after myst-nb's cross-document glue (5): every chapter has written its glue file

    def apply(self, **kwargs):
        folder = Path(self.env.mystnb_config.output_folder)
        for node in list(self.document.findall(_Tally)):
            node.replace_self(nodes.Text(tally_text(folder)))


def chapter_labels(book: Path) -> dict[str, str]:
    """Each chapter's stem -> the label its page opens with (``(ch-...)=``), for the chapters in ``book``."""
    import re

    out = {}
    for path in sorted(Path(book).glob("[0-9]*.py")):
        found = re.search(r"^# \((ch-[a-z0-9-]+)\)=", path.read_text(), re.M)
        if found:
            out[path.stem] = found.group(1)
    return out


class _ProtocolTable(SphinxDirective):
    """``{protocol-table} claims|primary|others|sanity``: one of the intro's tables, from the protocol."""
    required_arguments = 1

    def run(self):
        from . import protocol

        book = Path(self.env.srcdir) / "book"
        self.env.note_dependency(str(protocol.PATH))  # a protocol change re-reads the page
        text = protocol.overview(self.arguments[0], chapter_labels(book))
        box = nodes.container()
        self.state.nested_parse(StringList(text.splitlines(), source=self.env.docname), self.content_offset, box)
        return box.children


def setup(app) -> dict:
    """Sphinx extension: the library fingerprint as an 'env' config value (a change re-reads every page), MathJax
    served from the book, and a download button for each chapter's executed notebook."""
    app.add_config_value("wedges_lib_fingerprint", library_fingerprint(), "env")
    app.connect("config-inited", _local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _notebook_download, priority=400)  # before the theme builds its buttons (501)
    app.add_role("verdict-tally", _tally_role)  # the intro's count of this build's verdicts
    app.add_directive("protocol-table", _ProtocolTable)  # the intro's tables of claims and checks
    app.add_post_transform(_FillTally)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def to_ipynb(chapter: str | Path, ipynb: str | Path) -> None:
    """Convert a percent-format chapter to a notebook papermill can run (python3 kernel unless it names one)."""
    import jupytext

    nb = jupytext.read(chapter)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    jupytext.write(nb, ipynb)


def parameters(chapter: str | Path) -> list[str]:
    """Names of the parameters in a chapter's ``parameters`` cell (read with papermill, nothing executed)."""
    import papermill

    with tempfile.TemporaryDirectory() as d:
        ipynb = Path(d) / "chapter.ipynb"
        to_ipynb(chapter, ipynb)
        found = papermill.inspect_notebook(str(ipynb))
    if not found:
        raise ValueError(f"{chapter}: no cell tagged 'parameters'")
    return list(found)
