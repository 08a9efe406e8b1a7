"""Running chapters as jobs: one papermill run with parameters, and grids of runs on Dask.

A run folder holds ``notebook.ipynb`` (executed), ``report.html`` (its export: :func:`export_html`),
``params.json`` (resolved parameters), ``metrics.json`` (what the chapter passed to
:func:`~wedges_lib.results.record`) and ``status.json``. It is
built under a temporary name beside its final place and renamed when the run ends, so a folder that exists is
complete; a failed run keeps its executed notebook for debugging and says ``"status": "failed"``.
"""
from __future__ import annotations

import ast
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import config, notebook
from .cache import cache_dir
from .results import RUN_DIR_ENV, write_json


def validate(chapter: str | Path, scale: str | None, overrides: dict[str, Any]) -> config.Config:
    """Check a run's parameters before anything executes; return the resolved configuration."""
    if not Path(chapter).is_file():
        raise ValueError(f"chapter {str(chapter)!r} does not exist")
    cache_dir()  # WEDGES_DATA naming a file fails here, in one line, not inside the run
    known = notebook.parameters(chapter)
    unknown = [k for k in overrides if k not in known]
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} for {Path(chapter).name}; "
                         f"valid parameters: {', '.join(k for k in known if k != 'scale')}")
    cfg = config.resolve(scale, Path(chapter).stem, **overrides)  # with the chapter's own seeds and budget
    cfg = config.Config({k: cfg[k] for k in known if k in cfg})
    if Path(chapter).stem == "92_your_model":  # its parameters name code and files: built and loaded here, first
        from .studies.ch92_your_model import check_inputs

        check_inputs(cfg)
    return cfg


def run_chapter(chapter: str | Path, out: str | Path, *, scale: str | None = None,
                overrides: dict[str, Any] | None = None, quiet: bool = False, kernel: str = "python3",
                html: bool = True) -> dict:
    """Execute ``chapter`` with papermill at ``scale`` with ``overrides`` into the run folder ``out`` (with
    ``html``, its export ``report.html`` too). The notebook gets the validated values (checkpoint paths made
    absolute) and the caller's folder on its PYTHONPATH, so a model or data module there imports as it did here.

    Raises ValueError (nothing created) for bad parameters or an existing ``out``. Returns the status
    dict; ``status['status']`` is 'complete' or 'failed'.
    """
    import papermill

    overrides = dict(overrides or {})
    cfg = validate(chapter, scale, overrides)
    out = Path(out)
    if out.exists():
        raise ValueError(f"run folder {str(out)!r} already exists; choose another --out or delete it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    write_json(tmp / "params.json", dict(cfg))
    src = tmp / "source.ipynb"
    notebook.to_ipynb(chapter, src)
    env_before = {k: os.environ.get(k) for k in (RUN_DIR_ENV, "PYTHONPATH")}
    os.environ[RUN_DIR_ENV] = str(tmp.resolve())
    os.environ["PYTHONPATH"] = os.pathsep.join([os.getcwd()] + ([env_before["PYTHONPATH"]]
                                                                if env_before["PYTHONPATH"] else []))
    status: dict[str, Any] = {"chapter": str(chapter), "scale": cfg["scale"], "started": time.time()}
    try:
        # papermill writes tuples as strings: pass them as lists (config turns them back into tuples)
        injected = {k: list(v) if isinstance(v, tuple) else v for k, v in {"scale": cfg["scale"], **{
            k: cfg[k] for k in overrides}}.items()}
        papermill.execute_notebook(str(src), str(tmp / "notebook.ipynb"), parameters=injected,
                                   progress_bar=not quiet, kernel_name=kernel, cwd=str(Path(chapter).parent))
        status["status"] = "complete"
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        last = str(e).strip().splitlines()[-1] if str(e).strip() else ""
        status.update(status="failed", error=f"{type(e).__name__}: {last}")
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    src.unlink()
    if not (tmp / "metrics.json").exists():
        write_json(tmp / "metrics.json", {})
    if html and (tmp / "notebook.ipynb").exists():
        try:
            export_html(tmp / "notebook.ipynb", tmp / "report.html", json.loads((tmp / "metrics.json").read_text()))
        except Exception as e:  # the run stands without its export; say why
            status["html_error"] = f"{type(e).__name__}: {e}"
    status["seconds"] = round(time.time() - status.pop("started"), 2)
    write_json(tmp / "status.json", status)
    try:
        os.rename(tmp, out)
    except OSError:  # another process finished the same run first: keep theirs, drop ours
        shutil.rmtree(tmp, ignore_errors=True)
        status = json.loads((out / "status.json").read_text())
    return status


# --- the run's report: its notebook as one HTML file -----------------------------------------------------

_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_FENCE = re.compile(r"^(:{3,}|`{3,})\{([\w:-]+)\}\s*(.*)$")
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true, tags: 'ams'},
  options: {enableMenu: false}};</script>
<script>{{ resources.wedges_mathjax }}</script>
{%- endblock html_head_js_mathjax -%}
"""


def _role(match: re.Match, metrics: dict) -> str:
    role, text = match.groups()
    if role.startswith("glue"):
        name = text.split("::")[-1].split(":")[0]
        value = metrics.get(name, "n/a")
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    if role.startswith("cite"):
        return f"[{text}]"
    if role == "math":
        return f"${text}$"
    return f"*{text.split('<')[0].strip() or text}*"  # ref, numref, doc: the target's name


def plain_markdown(text: str, metrics: dict) -> str:
    r"""MyST Markdown as plain Markdown for a report outside the book: roles as text (glued numbers from ``metrics``),
    directive fences as a bold title (a ``{glue:figure}``'s caption as "Figure (its name)." — the figure itself is
    its cell's output), their options dropped, target labels ``(name)=`` dropped.

    >>> plain_markdown(":::{admonition} Note\n:class: tip\nsee {numref}`fig-a`, {glue:text}`x` = 1\n:::", {"x": 0.5})
    '**Note**\n\nsee *fig-a*, 0.5 = 1\n'
    >>> plain_markdown("```{glue:figure} fig_a\n:name: fig-a\n\nThe caption.\n```", {})
    '**Figure (fig-a).**\n\nThe caption.\n'
    """
    out, fences = [], []
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        option = re.match(r"^:(\w+):\s*(.*)$", line.strip()) if fences else None
        if m:
            fences.append(m.group(1))
            if m.group(2) != "glue:figure":  # a figure's title comes with its name (the :name: option)
                out += [f"**{m.group(3) or m.group(2).capitalize()}**", ""]
        elif fences and line.strip() == fences[-1]:
            fences.pop()
        elif option:
            if option.group(1) == "name":
                out.append(f"**Figure ({option.group(2)}).**")
        elif not re.fullmatch(r"\([\w-]+\)=", line.strip()):
            out.append(_ROLE.sub(lambda mm: _role(mm, metrics), line))
    return "\n".join(out) + "\n"


def export_html(notebook_path: Path, html_path: Path, metrics: dict) -> None:
    """The executed notebook as one HTML file that reads offline: nbconvert's lab template with no CDN script, the
    book's MathJax 3 (:func:`wedges_lib.notebook.mathjax_source`, its SVG build inlined), the chapter's MyST as plain
    Markdown (:func:`plain_markdown`), cells tagged ``remove-cell`` left out, inputs tagged ``remove-input`` /
    ``hide-input`` hidden, each figure followed by its caption (the chapter's ``{glue:figure}``)."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook_path), as_version=4)
    nb.metadata.pop("widgets", None)
    cells = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, metrics)
        elif cell.cell_type == "code":
            cell.metadata["transient"] = {"remove_source": bool(tags & {"remove-input", "hide-input"})}
            outs = [o for o in cell.outputs if not ("remove-stderr" in tags and o.get("name") == "stderr")]
            for o in outs:
                if "text/markdown" in o.get("data", {}):
                    o.data["text/markdown"] = plain_markdown(o.data["text/markdown"], metrics)
            cell.outputs = outs
        cells.append(cell)
    nb.cells = cells
    js = (notebook.mathjax_source() / "tex-svg-full.js").read_text().replace("</script", "<\\/script")
    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"report.html.j2": _TEMPLATE})],
                            template_file="report.html.j2", exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"wedges_mathjax": js})
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html_path)


# --- grids of runs on Dask ------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """A parameter value from the command line: a Python literal (1, 0.05, True, (1, 2)) or else a string.

    >>> parse_value("0.05"), parse_value("(1, 2)"), parse_value("cosine")
    (0.05, (1, 2), 'cosine')
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7]."""
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(v) for v in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds: got {text!r}; expected a range like 0-4 or a list like 0,3,7 of ints >= 0")
    return seeds


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """['lr=0.01,0.1', 'width=1,2'] -> {'lr': [0.01, 0.1], 'width': [1, 2]} (values as Python literals)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, eq, values = item.partition("=")
        if not eq or not name or not values or name in grid:
            raise ValueError(f"--grid: got {item!r}; expected NAME=V1,V2,... with each NAME given once")
        grid[name.strip()] = [parse_value(v.strip()) for v in values.split(",")]
    return grid


def run_name(chapter: str | Path, cfg: dict) -> str:
    """The run folder's name: the chapter and a hash of its resolved parameters."""
    blob = json.dumps({"chapter": Path(chapter).stem, "params": cfg}, sort_keys=True, default=str)
    return f"{Path(chapter).stem}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def plan(chapter: str | Path, scale: str | None, grid: dict[str, list[Any]], seeds: list[int]) -> list[dict]:
    """Every combination of ``grid`` and ``seeds``, validated: a list of {'overrides', 'name'}; raises before
    any run."""
    jobs = []
    for combo in itertools.product(*grid.values()):
        overrides = dict(zip(grid, combo), seed=0)
        for seed in seeds:
            overrides = {**overrides, "seed": seed}
            cfg = validate(chapter, scale, overrides)
            jobs.append({"overrides": overrides, "name": run_name(chapter, dict(cfg)), "scale": cfg["scale"]})
    return jobs


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished, successful run."""
    try:
        return json.loads((folder / "status.json").read_text())["status"] == "complete"
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return False


def _run_job(chapter: str, out: str, scale: str, overrides: dict) -> dict:
    """One run as its own process (``python -m wedges_lib run``), so runs never share state."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "wedges_lib", "run", str(chapter), "--scale", scale, "--out", out, "--quiet",
           "--no-html"]
    for k, v in overrides.items():
        cmd += ["-p", k, repr(v)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    folder = Path(out)
    if is_complete(folder):
        return {"name": folder.name, "status": "complete"}
    return {"name": folder.name, "status": "failed", "error": (p.stderr.strip().splitlines() or [""])[-1]}


def run_sweep(chapter: str | Path, out: str | Path, *, scale: str | None, grid: dict[str, list[Any]],
              seeds: list[int], scheduler: str | None = None, n_workers: int | None = None,
              quiet: bool = False) -> list[dict]:
    """Run every combination not already complete in ``out`` on Dask; returns one result per job.

    ``scheduler`` is a Dask scheduler address; without it a LocalCluster of ``n_workers``
    (default: the machine's cores) is started. Failed runs are re-run by the next sweep.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm  # a text bar on a terminal only (disable=None)

    jobs = plan(chapter, scale, grid, seeds)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo, results = [], []
    for job in jobs:
        folder = out / job["name"]
        if is_complete(folder):
            results.append({"name": job["name"], "status": "skipped"})
            continue
        if folder.exists():  # a failed run from an earlier sweep: its notebook was reported then
            shutil.rmtree(folder, ignore_errors=True)
        todo.append(job)
    if not todo:
        return results
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=False, dashboard_address=None)
    with Client(scheduler or cluster) as client:
        futures = [client.submit(_run_job, str(chapter), str(out / j["name"]), j["scale"], j["overrides"],
                                 key=f"run-{j['name']}", pure=False) for j in todo]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="sweep", disable=quiet or None):
            results.append(fut.result())
    if cluster is not None:
        cluster.close()
    return results


def load(out: str | Path):
    """A pandas DataFrame with one row per complete run in ``out``: its parameters, metrics and run name.

    Used in :ref:`ch-reproducing`.
    """
    import pandas as pd

    rows = []
    for folder in sorted(Path(out).iterdir()):
        if folder.name.startswith(".") or not is_complete(folder):
            continue
        row = json.loads((folder / "params.json").read_text())
        row.update(json.loads((folder / "metrics.json").read_text()))
        row["run"] = folder.name
        rows.append(row)
    return pd.DataFrame(rows)
