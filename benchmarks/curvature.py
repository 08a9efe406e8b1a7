"""Curvature benchmark: Wedges against PyHessian, and scipy's eigsh on Wedges' Hessian operator.

Same model, data, precision and tolerance for everyone: an MLP 40-256-256-10 (ReLU, 78,858
parameters) at its seeded initialisation, a batch of 1000 random MNIST-1D-shaped examples
(40 features, 10 classes), mean cross-entropy, float32 on the CPU.

Tasks: the top-1 and top-5 Hessian eigenvalues at tolerance 1e-3 (PyHessian's default; for
PyHessian the relative change of the eigenvalue between power iterations, for Wedges and
eigsh the relative Ritz residual), and the trace from 100 Rademacher probes (PyHessian with
tol=0 so that it, too, uses all 100; with the same seed both draw the same probes), with
Wedges' probes vmapped 16 at a time (the default) and one at a time. A last row shows
PyHessian's trace at its default stopping rule.

Reference: Wedges' Lanczos in float64 at tolerance 1e-10, checked against eigsh in float64;
the trace reference is a 1000-probe Hutchinson estimate, with its standard error. Row
"top-1, Wedges at tol 1e-2" compares at matched accuracy (Wedges still the more accurate).

Timings are the best of ``--repeats`` runs, the methods interleaved; with several runs the table also
shows each method's spread (slowest minus fastest run, over the fastest). PyHessian is pinned
in requirements.txt for this benchmark and the book's benchmarks appendix; wedges_lib does not import it.

    python benchmarks/curvature.py            # ~ a few minutes on 2 CPU cores
    python benchmarks/curvature.py --quick    # smoke run, well under a minute
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from common import Row, apply_threads, interleave, parser, timed, write_rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags; ``--threads N`` also sets the BLAS thread variables (the shared parser does)."""
    ap = parser("Curvature benchmark: Wedges vs PyHessian and scipy eigsh.",
                quick="one repeat, a small trace reference: a smoke run", repeats=(3, 1), threads=1)
    ap.add_argument("--no-scipy", action="store_true", help="skip the scipy eigsh baseline")
    return ap.parse_args(argv)


if __name__ == "__main__":
    # BLAS (numpy/scipy, used by eigsh) reads its thread variables once, when it loads: parse (which sets
    # them for --threads N; default 1, stable timings on a busy machine) before importing numpy and torch
    ARGS = parse_args()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse.linalg  # noqa: E402
import torch  # noqa: E402
from torch.func import functional_call  # noqa: E402

from wedges_lib import curvature  # noqa: E402

try:
    from pyhessian import hessian as PyHessian

    _pyhessian_module = sys.modules[PyHessian.__module__]  # the package's attribute is the class
except ImportError:  # pragma: no cover - a peer, needed by this benchmark only
    PyHessian = None

# PyHessian calls loss.backward(create_graph=True), which warns of a reference cycle; we reset .grad after each run
warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")

SIZES, N_EXAMPLES, SEED = (40, 256, 256, 10), 1000, 0
TOL, N_PROBES = 1e-3, 100


def make_problem(dtype: torch.dtype = torch.float32):
    """The benchmark model, data and criterion, and Wedges' loss of the flat parameter vector."""
    torch.manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(dtype)
    x = torch.randn(N_EXAMPLES, SIZES[0]).to(dtype)  # drawn in float32: the same data at any dtype
    y = torch.randint(0, SIZES[-1], (N_EXAMPLES,))
    criterion = torch.nn.CrossEntropyLoss()
    shapes = {name: p.shape for name, p in model.named_parameters()}
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_fn(t: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for name, shape in shapes.items():
            params[name] = t[i : i + shape.numel()].view(shape)
            i += shape.numel()
        return criterion(functional_call(model, params, (x,)), y)

    return model, criterion, (x, y), theta, loss_fn


class ProductCounter:
    """Counts Hessian-vector products made by Wedges (through hessian_operator) and PyHessian."""

    def __init__(self) -> None:
        self.count = 0
        make_operator = curvature.hessian_operator

        def counted_operator(loss_fn, theta):
            op = make_operator(loss_fn, theta)

            def apply(V):
                self.count += 1 if V.dim() == 1 else V.shape[0]
                return op(V)

            return apply

        curvature.hessian_operator = counted_operator
        if PyHessian is not None:
            product = _pyhessian_module.hessian_vector_product

            def counted_product(gradsH, params, v):
                self.count += 1
                return product(gradsH, params, v)

            _pyhessian_module.hessian_vector_product = counted_product

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


def eigsh_top(loss_fn, theta: torch.Tensor, k: int, tol: float, seed: int = SEED) -> np.ndarray:
    """Top-k eigenvalues by scipy's ARPACK on a LinearOperator of Wedges' products, descending."""
    op = curvature.hessian_operator(loss_fn, theta)
    D = theta.numel()

    def matvec(v: np.ndarray) -> np.ndarray:
        out = op(torch.from_numpy(np.ascontiguousarray(v).reshape(-1)).to(theta.dtype))
        return out.double().numpy()

    linop = scipy.sparse.linalg.LinearOperator((D, D), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(D)
    values = scipy.sparse.linalg.eigsh(linop, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(values)[::-1]


def pyhessian_run(model, criterion, data, task: str, k: int = 1, trace_tol: float = 0.0):
    """One PyHessian call, from constructing its object (which builds the gradient graph)."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(SEED)  # PyHessian draws its random vectors from the global generator
    h = PyHessian(model, criterion, data=data, cuda=False)
    if task == "eig":
        values, _ = h.eigenvalues(top_n=k, tol=TOL, maxIter=100)
        out = np.array(values)
    else:
        samples = h.trace(maxIter=N_PROBES, tol=trace_tol)
        out = (float(np.mean(samples)), len(samples))
    del h
    model.zero_grad(set_to_none=True)
    return out


def eig_error(values, reference: np.ndarray) -> tuple[float, bool]:
    """(max relative error of the sorted values against the reference, were they returned in descending order)."""
    values = np.asarray(values, dtype=np.float64)
    in_order = bool(np.all(np.diff(values) <= 0))
    err = np.max(np.abs(np.sort(values)[::-1] - reference) / np.abs(reference))
    return float(err), in_order


def result_rows(rows: list[dict]) -> list[Row]:
    """The Wedges-vs-PyHessian rows of the table, as the benchmarks' common rows."""
    def agreement(task: str) -> dict:  # a trace from 100 random probes is stochastic: a looser tolerance
        if task.startswith("trace"):
            return dict(agreement_is="relative error against the many-probe reference trace", tolerance=0.25)
        return dict(agreement_is="relative error against the float64 Lanczos reference", tolerance=1e-2)

    return [Row(task=r["task"], unit="s", wedges=r["wedges s"], peer="PyHessian 0.1", peer_value=r["pyhessian s"],
                goal=">= 2", agreement=r["wedges rel.err"], peer_agreement=r["pyhessian rel.err"],
                **agreement(r["task"]))
            for r in rows if "wedges s" in r]


def main(args: argparse.Namespace) -> None:
    repeats = args.repeats
    n_ref_probes = 200 if args.quick else 1000
    apply_threads(args)
    if PyHessian is None:
        raise SystemExit("PyHessian is not installed: pip install -r requirements.txt (it pins pyhessian)")

    model, criterion, data, theta, loss_fn = make_problem()
    counter = ProductCounter()
    print(f"model: MLP {'-'.join(map(str, SIZES))}, D = {theta.numel():,}, batch {N_EXAMPLES}, float32, "
          f"CPU threads {torch.get_num_threads()}, repeats {repeats}")

    # reference: float64 Lanczos at a tight tolerance, cross-checked with eigsh
    t_ref = time.perf_counter()
    *_, theta64, loss64 = make_problem(torch.float64)
    ref_eigs, _ = curvature.top_eigenvalues(loss64, theta64, 5, tol=1e-10, max_iter=400)
    ref_eigs = ref_eigs.numpy()
    ref_products = counter.take()
    ref_trace = curvature.trace(loss_fn, theta, n_probes=n_ref_probes, seed=12345)
    counter.take()
    print(f"reference top-5 (float64 Lanczos, tol 1e-10, {ref_products} products): "
          f"{np.array2string(ref_eigs, precision=6)}")
    if not args.quick:
        check = eigsh_top(loss64, theta64, 5, tol=1e-10)
        counter.take()
        agreement = np.max(np.abs(check - ref_eigs) / np.abs(ref_eigs))
        print(f"  eigsh float64 tol 1e-10 agrees to {agreement:.1e} (relative)")
    print(f"reference trace ({n_ref_probes} probes): {ref_trace.value:.4f} +- {ref_trace.stderr:.4f} (1 s.e.); "
          f"reference computed in {time.perf_counter() - t_ref:.1f} s\n")

    tasks = {
        "top-1 eigenvalue": dict(
            wedges=lambda: curvature.top_eigenvalues(loss_fn, theta, 1, tol=TOL)[0].numpy(),
            pyhessian=lambda: pyhessian_run(model, criterion, data, "eig", k=1),
            eigsh=lambda: eigsh_top(loss_fn, theta, 1, tol=TOL),
        ),
        "top-1, Wedges at tol 1e-2": dict(  # looser, and still more accurate than PyHessian at 1e-3
            wedges=lambda: curvature.top_eigenvalues(loss_fn, theta, 1, tol=10 * TOL)[0].numpy(),
            pyhessian=lambda: pyhessian_run(model, criterion, data, "eig", k=1),
            eigsh=lambda: eigsh_top(loss_fn, theta, 1, tol=10 * TOL),
        ),
        "top-5 eigenvalues": dict(
            wedges=lambda: curvature.top_eigenvalues(loss_fn, theta, 5, tol=TOL)[0].numpy(),
            pyhessian=lambda: pyhessian_run(model, criterion, data, "eig", k=5),
            eigsh=lambda: eigsh_top(loss_fn, theta, 5, tol=TOL),
        ),
        f"trace, {N_PROBES} probes": dict(
            wedges=lambda: curvature.trace(loss_fn, theta, n_probes=N_PROBES, seed=SEED),
            pyhessian=lambda: pyhessian_run(model, criterion, data, "trace"),
        ),
        f"trace, {N_PROBES} probes, Wedges batch=1": dict(
            wedges=lambda: curvature.trace(loss_fn, theta, n_probes=N_PROBES, seed=SEED, batch=1),
            pyhessian=lambda: pyhessian_run(model, criterion, data, "trace"),
        ),
    }
    # warm-up, untimed: first calls pay one-off costs (allocator, autograd engine, imports)
    curvature.top_eigenvalues(loss_fn, theta, 1, tol=1e-1)
    curvature.trace(loss_fn, theta, n_probes=2, batch=2)
    pyhessian_run(model, criterion, data, "eig", k=1)
    eigsh_top(loss_fn, theta, 1, tol=1e-1)
    counter.take()
    rows = []
    for task, methods in tasks.items():
        if args.no_scipy:
            methods.pop("eigsh", None)
        products = {}
        times = interleave(methods, repeats, after=lambda name, _: products.__setitem__(name, counter.take()))
        outputs = {name: t.result for name, t in times.items()}
        row = {"task": task}
        for name in methods:
            row[f"{name} s"] = times[name].best()
            if repeats > 1:
                row[f"{name} spread"] = times[name].spread() / times[name].best()
        row["speed-up PyH/W"] = row["pyhessian s"] / row["wedges s"]
        for name in methods:
            out = outputs[name]
            if task.startswith("trace"):
                value = out.value if name == "wedges" else out[0]
                row[f"{name} rel.err"] = abs(value - ref_trace.value) / abs(ref_trace.value)
                row[f"{name} in order"] = "-"
            else:
                k = len(out)
                row[f"{name} rel.err"], order = eig_error(out, ref_eigs[:k])
                row[f"{name} in order"] = "yes" if order else "NO"
            row[f"{name} HVPs"] = products[name]
        if task.startswith("trace"):
            row["note"] = f"Wedges s.e. {outputs['wedges'].stderr / abs(ref_trace.value):.1%} of the trace"
            row["values"] = f"W {outputs['wedges'].value:.3f}, PyH {outputs['pyhessian'][0]:.3f}"
        else:
            row["values"] = "W " + np.array2string(outputs["wedges"], precision=5) + ", PyH " + np.array2string(
                outputs["pyhessian"], precision=5
            )
        rows.append(row)

    # PyHessian's trace at its default stopping rule (relative change of the running mean < 1e-3)
    (value, n_used), elapsed, _ = timed(lambda: pyhessian_run(model, criterion, data, "trace", trace_tol=TOL))
    counter.take()
    rows.append({"task": "trace, PyHessian default stop", "pyhessian s": elapsed,
                 "pyhessian rel.err": abs(value - ref_trace.value) / abs(ref_trace.value),
                 "pyhessian HVPs": n_used, "values": f"PyH {value:.3f} after {n_used} probes, no error bar"})

    if args.json:
        write_rows(args.json, result_rows(rows))
    table = pd.DataFrame(rows).set_index("task")
    order = [c for c in ["wedges s", "pyhessian s", "speed-up PyH/W", "eigsh s", "wedges spread", "pyhessian spread",
                         "eigsh spread", "wedges rel.err", "pyhessian rel.err",
                         "eigsh rel.err", "wedges in order", "pyhessian in order", "eigsh in order", "wedges HVPs",
                         "pyhessian HVPs", "eigsh HVPs"] if c in table]
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 120):
        print(table[order].to_string(float_format=lambda v: f"{v:.3g}", na_rep="-"))
        print()
        print(table[[c for c in ["values", "note"] if c in table]].to_string(na_rep=""))


if __name__ == "__main__":
    main(ARGS)
