"""Curvature benchmark: Wedges against PyHessian, and against curvlinops + scipy's eigsh.

Same model, data, precision for everyone: an MLP 40-256-256-10 (ReLU, 78,858 parameters) at its seeded
initialisation, a batch of 1000 random MNIST-1D-shaped examples (40 features, 10 classes), mean
cross-entropy, float32 (``--device cuda``: on the GPU).

* **Eigenvalues**, checked at <= 1e-3 relative error against a float64 Lanczos reference (tol 1e-10,
  cross-checked with eigsh): the top-1 and top-5 by Wedges' Lanczos (top-1: ``stop="value"``, the eigenvalue's
  error estimate <= 1e-3; top-5: ``stop="residual"``, every Ritz residual <= 1e-3 |l|, since two of the five
  lie 0.3% apart and an error estimate from Ritz gaps can stop before the fifth is found) against PyHessian's
  power iteration (its tol 1e-3) and, for the top-5, against
  curvlinops' ``HessianLinearOperator`` handed to scipy's ``eigsh`` (ARPACK, tol 1e-3).
* **Trace at equal standard error**: each method spends the Hessian-vector products it needs to reach the
  same target standard error. Wedges: ``curvature.trace_deflated`` (20 Lanczos steps deflated exactly,
  Hutchinson on the rest, a 30-probe pilot sets the number of probes). PyHessian: its Hutchinson with as many
  probes as its per-probe variance needs for the target (the variance from a 200-probe pilot, untimed;
  tol=0 so that it uses them all). Rows in seconds and in products, on three problems: the benchmark MLP at
  initialisation (target 2% of the trace), the same MLP trained (300 full-batch SGD steps, target 0.5%),
  and the test suite's exact-Hessian net (MLP 5-10-3 tanh, 64 examples, float64; 1%). Every reference is
  exact: the ReLU MLP's Tr(H) is its Gauss-Newton trace (below), the test net's the trace of its dense
  Hessian. Agreement: |estimate - exact trace| in the estimate's standard errors, tolerance 3.
* One diagnostic row: the trace from 100 probes each (equal products: a tie, which is why the variance
  reduction is the way to a speed-up).
* **Exact trace** (ReLU nets): ``operators.ggn_trace``, Tr of the Gauss-Newton matrix computed exactly (C
  backward passes of the data, no probe), which for a network of Linear layers and piecewise-linear
  activations is Tr(H) itself (the network is linear in each single weight, so the second-derivative term
  has a zero diagonal; ``tests/test_operators.py`` checks it against dense Hessians); timed in the same rounds
  against PyHessian reaching the target error. Its agreement is the other side of the check: its distance
  from Wedges' Hutchinson estimate of Tr(H), from Hessian-vector products, in that estimate's standard errors.
  (Until 2026-12-06 the MLP's reference was a deflated estimate of 1,540 products, 40 s per build.)
* **Of peak** (rows on the benchmark MLP): the FLOPs torch counts (``torch.utils.flop_counter``) for Wedges'
  work — building the Hessian operator once per call, then each product — over its time, against the
  float32 matmul peak at the same thread count (``common.matmul_peak``).

Times are medians of ``--repeats`` interleaved rounds; each row also keeps the smallest and largest per-round
ratio. PyHessian and curvlinops are pinned in requirements.txt for this benchmark; wedges_lib imports neither.

    python -m benchmarks.curvature            # a few minutes on 2 CPU cores
    python -m benchmarks.curvature --quick    # smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings

from benchmarks.common import Row, apply_threads, interleave, matmul_peak, parser, ratios, write_rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags; ``--threads N`` also sets the BLAS thread variables (the shared parser does)."""
    ap = parser("Curvature benchmark: Wedges vs PyHessian and scipy eigsh.",
                quick="one repeat, looser trace targets, no trained MLP: a smoke run", repeats=(3, 1), threads=1,
                devices=("cpu", "cuda"))
    ap.add_argument("--no-scipy", action="store_true", help="skip the curvlinops + scipy eigsh baseline")
    return ap.parse_args(argv)


if __name__ == "__main__":
    # BLAS (numpy/scipy, used by eigsh) reads its thread variables once, when it loads: parse (which sets
    # them for --threads N; default 1, stable timings on a busy machine) before importing numpy and torch
    ARGS = parse_args()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse.linalg  # noqa: E402
import torch  # noqa: E402

from wedges_lib import curvature, operators, params  # noqa: E402

try:
    from pyhessian import hessian as PyHessian

    _pyhessian_module = sys.modules[PyHessian.__module__]  # the package's attribute is the class
except ImportError:  # pragma: no cover - a peer, needed by this benchmark only
    PyHessian = None

# PyHessian calls loss.backward(create_graph=True), which warns of a reference cycle; we reset .grad after each run
warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")

SIZES, N_EXAMPLES, SEED = (40, 256, 256, 10), 1000, 0
TOL, N_PROBES = 1e-3, 100  # eigenvalue accuracy asked of every method; probes of the equal-products row


def make_problem(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
    """The benchmark model, data and criterion, and Wedges' loss of the flat parameter vector."""
    torch.manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(dtype).to(device)
    x = torch.randn(N_EXAMPLES, SIZES[0]).to(dtype).to(device)  # drawn in float32: the same data at any dtype
    y = torch.randint(0, SIZES[-1], (N_EXAMPLES,)).to(device)
    criterion = torch.nn.CrossEntropyLoss()
    theta, loss_fn = params.flatten(model), params.loss_fn(model, x, y)  # mean cross-entropy, as criterion's
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

            def counted_product(gradsH, weights, v):
                self.count += 1
                return product(gradsH, weights, v)

            _pyhessian_module.hessian_vector_product = counted_product

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


def counted_flops(fn):
    """(fn(), the FLOPs torch counts while it runs: ``torch.utils.flop_counter``, matrix products included)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = fn()
    return out, counter.get_total_flops()


def operator_flops(loss_fn, theta: torch.Tensor) -> tuple[int, int]:
    """(set-up, per product): the FLOPs to build Wedges' Hessian operator at theta (the forward pass and the
    gradient's graph, once per call) and for one product through it."""
    op, setup = counted_flops(lambda: curvature.hessian_operator(loss_fn, theta))
    return setup, counted_flops(lambda: op(torch.randn_like(theta)))[1]


def eigsh_top(loss_fn, theta: torch.Tensor, k: int, tol: float, seed: int = SEED) -> np.ndarray:
    """Top-k eigenvalues by scipy's ARPACK on a LinearOperator of Wedges' products, descending."""
    op = curvature.hessian_operator(loss_fn, theta)
    D = theta.numel()

    def matvec(v: np.ndarray) -> np.ndarray:
        out = op(torch.from_numpy(np.ascontiguousarray(v).reshape(-1)).to(theta))
        return out.double().cpu().numpy()

    linop = scipy.sparse.linalg.LinearOperator((D, D), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(D)
    values = scipy.sparse.linalg.eigsh(linop, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(values)[::-1]


def pyhessian_run(model, criterion, data, task: str, k: int = 1, trace_tol: float = 0.0, cuda: bool = False):
    """One PyHessian call, from constructing its object (which builds the gradient graph)."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(SEED)  # PyHessian draws its random vectors from the global generator
    h = PyHessian(model, criterion, data=data, cuda=cuda)
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


def make_testnet():
    """The test suite's exact-Hessian net (tests/test_curvature.py): model, criterion, data, theta, loss, true trace."""
    torch.manual_seed(1234)
    net = torch.nn.Sequential(torch.nn.Linear(5, 10), torch.nn.Tanh(), torch.nn.Linear(10, 3)).double()
    x, y = torch.randn(64, 5, dtype=torch.float64), torch.randint(0, 3, (64,))
    criterion = torch.nn.CrossEntropyLoss()
    theta, loss_fn = params.flatten(net), params.loss_fn(net, x, y)

    exact = float(torch.func.hessian(loss_fn)(theta).trace())
    return net, criterion, (x, y), theta, loss_fn, exact


def trained(model, loss_fn, theta, steps: int = 300):
    """theta after ``steps`` full-batch SGD steps (lr 0.1, momentum 0.9), also loaded into ``model``."""
    th = theta.clone().requires_grad_(True)
    opt = torch.optim.SGD([th], lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(th).backward()
        opt.step()
    th = th.detach()
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(th, model.parameters())
    return th


EIGSH_PRODUCTS = [0]  # curvlinops' products made inside eigsh since the last take (ProductCounter cannot see them)


def curvlinops_eigsh(model, criterion, data, k: int, tol: float, seed: int = SEED) -> np.ndarray:
    """Top-k by scipy's eigsh on curvlinops' HessianLinearOperator (built in the timed call), descending."""
    from curvlinops import HessianLinearOperator

    weights = [p for p in model.parameters() if p.requires_grad]
    H = HessianLinearOperator(model, criterion, weights, [data], check_deterministic=False).to_scipy()

    def matvec(v):  # counted, for the products column
        EIGSH_PRODUCTS[0] += 1
        return H.matvec(v)

    v0 = np.random.default_rng(seed).standard_normal(H.shape[0])
    values = scipy.sparse.linalg.eigsh(scipy.sparse.linalg.LinearOperator(H.shape, matvec=matvec, dtype=H.dtype),
                                       k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(values)[::-1]


def pyhessian_trace(model, criterion, data, n: int, cuda: bool):
    """PyHessian's Hutchinson with exactly n probes: (mean, standard error)."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(SEED)
    h = PyHessian(model, criterion, data=data, cuda=cuda)
    samples = np.asarray(h.trace(maxIter=n, tol=0.0))
    del h
    model.zero_grad(set_to_none=True)
    return float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(len(samples))), len(samples)


def main(args: argparse.Namespace) -> None:
    repeats, quick = args.repeats, args.quick
    apply_threads(args)
    if PyHessian is None:
        raise SystemExit("PyHessian is not installed: pip install -r requirements.txt (it pins pyhessian)")
    dev, cuda = torch.device(args.device), args.device == "cuda"
    model, criterion, data, theta, loss_fn = make_problem(device=dev)
    counter = ProductCounter()
    print(f"model: MLP {'-'.join(map(str, SIZES))}, D = {theta.numel():,}, batch {N_EXAMPLES}, float32, "
          f"device {args.device}, CPU threads {torch.get_num_threads()}, repeats {repeats}")

    setup, per_product = operator_flops(loss_fn, theta)
    peak = matmul_peak(args.device)
    print(f"Wedges' Hessian operator: {setup / 1e6:.0f} MFLOP to build, {per_product / 1e6:.0f} MFLOP per product; "
          f"float32 matmul peak {peak / 1e9:.0f} GFLOP/s at {torch.get_num_threads()} threads")
    of_peak = lambda products, seconds: (setup + products * per_product) / seconds / peak  # noqa: E731
    *_, theta64, loss64 = make_problem(torch.float64, device=dev)
    ref_eigs = curvature.top_eigenvalues(loss64, theta64, 5, tol=1e-10, max_iter=400)[0].cpu().numpy()
    if not quick and not args.no_scipy:
        check = eigsh_top(loss64, theta64, 5, tol=1e-10)
        print(f"reference top-5 {np.array2string(ref_eigs, precision=6)}; eigsh float64 agrees to "
              f"{np.max(np.abs(check - ref_eigs) / np.abs(ref_eigs)):.1e}")
    counter.take()

    def eig_rows():
        tasks = {"top-1 eigenvalue": (1, "PyHessian 0.1", lambda: pyhessian_run(model, criterion, data, "eig", k=1,
                                                                                cuda=cuda), ">= 2"),
                 "top-5 eigenvalues": (5, "PyHessian 0.1", lambda: pyhessian_run(model, criterion, data, "eig", k=5,
                                                                                 cuda=cuda), ">= 2")}
        if not args.no_scipy:
            tasks["top-5 eigenvalues, vs eigsh"] = (5, "curvlinops 3.0.1 + scipy eigsh",
                                                    lambda: curvlinops_eigsh(model, criterion, data, 5, TOL), ">= 5")
        out = []
        for task, (k, peer, run_peer, goal) in tasks.items():
            stop = "value" if k == 1 else "residual"  # a value's error estimate needs its gap: robust for one
            fns = {"wedges": lambda k=k, stop=stop: curvature.top_eigenvalues(loss_fn, theta, k, tol=TOL,
                                                                              stop=stop)[0],
                   "peer": run_peer}
            products = {}

            def take(name, _):
                products[name] = counter.take() + EIGSH_PRODUCTS[0]
                EIGSH_PRODUCTS[0] = 0

            t = interleave(fns, repeats, after=take)
            err_w, _ = eig_error(t["wedges"].result.cpu().numpy(), ref_eigs[:k])
            err_p, _ = eig_error(t["peer"].result, ref_eigs[:k])
            print(f"{task}: Wedges {t['wedges']} ({products['wedges']} products, rel. err {err_w:.1e}); "
                  f"{peer} {t['peer']} ({products['peer'] or 'uncounted'} products, rel. err {err_p:.1e})")
            out.append(Row(task=f"{task} (rel. err <= {TOL:g})", unit="s", peer=peer, goal=goal,
                           agreement=err_w, peer_agreement=err_p, tolerance=TOL,
                           agreement_is="relative error against the float64 Lanczos reference",
                           peak_fraction=of_peak(products["wedges"], t["wedges"].median()),
                           **ratios(t["peer"], t["wedges"])))
        return out

    def trace_rows(name, model, criterion, data, theta, loss_fn, target_rel, exact_trace=None, mlp=True):
        """Seconds and products to reach the same standard error, Wedges (deflated) vs PyHessian (Hutchinson),
        against the exact trace (given, or for a ReLU net its Gauss-Newton trace, which the exact row times);
        ``mlp``: the benchmark MLP, whose FLOPs per product give the fraction of peak."""
        pilot = curvature.trace(loss_fn, theta, n_probes=200, seed=777)
        exact = operators.is_piecewise_linear(model)  # then Tr(H) = Tr(GGN), exactly and without probes
        if exact_trace is None:
            if not exact:
                raise ValueError(f"{name}: no exact trace given, and Tr(GGN) is Tr(H) only for piecewise-linear nets")
            exact_trace = operators.ggn_trace(model, theta, *data)
        counter.take()
        target = target_rel * abs(exact_trace)
        n_peer = math.ceil(pilot.stderr**2 * 200 / target**2)
        fns = {"wedges": lambda: curvature.trace_deflated(loss_fn, theta, k=20, n_probes=30, target_stderr=target,
                                                          seed=SEED),
               "peer": lambda: pyhessian_trace(model, criterion, data, n_peer, cuda)}
        if exact:
            fns["exact"] = lambda: operators.ggn_trace(model, theta, *data)
        t = interleave(fns, repeats, after=lambda *_: counter.take())
        w, (p_val, p_se, p_n) = t["wedges"].result, t["peer"].result
        z = lambda v, se: abs(v - exact_trace) / se  # noqa: E731
        print(f"trace, {name}: exact {exact_trace:.4f}; target s.e. {target:.4f} "
              f"({target_rel:.1%}); Wedges {w.value:.4f} +- {w.stderr:.4f} in {w.products} products "
              f"(k=20 + {w.n_probes} probes), {t['wedges']}; PyHessian {p_val:.4f} +- {p_se:.4f} in {p_n} "
              f"products, {t['peer']}")
        common = dict(peer="PyHessian 0.1 Hutchinson", goal=">= 2", agreement=z(w.value, w.stderr),
                      peer_agreement=z(p_val, p_se), tolerance=3.0,
                      agreement_is="|estimate - exact trace| in the estimate's standard errors")
        task = f"trace to s.e. {target_rel:.1%} of it, {name}"
        frac = of_peak(w.products, t["wedges"].median()) if mlp else None
        out = [Row(task=task, unit="s", **common, peak_fraction=frac, **ratios(t["peer"], t["wedges"])),
               Row(task=task, unit="products", wedges=w.products, peer_value=p_n, **common)]
        if exact:
            value, flops = counted_flops(fns["exact"])
            print(f"trace, {name}: exact Tr(GGN) = Tr(H) (a ReLU net) {value:.4f}, {t['exact']}, "
                  f"{flops / 1e6:.0f} MFLOP")
            out.append(Row(task=f"{task}: exact (Tr H = Tr GGN, a ReLU net)", unit="s", **dict(
                common, agreement=abs(value - w.value) / w.stderr, agreement_is="|Tr GGN - Wedges' Hutchinson "
                "estimate of Tr H| in its standard errors"), peak_fraction=flops / t["exact"].median() / peak,
                **ratios(t["peer"], t["exact"])))
        return out

    rows = eig_rows()
    f = 3 if quick else 1  # a looser target in a smoke run
    rows += trace_rows("MLP at init", model, criterion, data, theta, loss_fn, 0.02 * f)
    net, crit_t, data_t, theta_t, loss_t, exact = make_testnet()
    rows += trace_rows("exact-Hessian test net", net, crit_t, data_t, theta_t, loss_t, 0.01 * f, exact_trace=exact,
                       mlp=False)
    if not quick:
        # equal probes: both spend one product per probe, so they tie (a diagnostic)
        t = interleave({"wedges": lambda: curvature.trace(loss_fn, theta, n_probes=N_PROBES, seed=SEED, batch=1),
                        "peer": lambda: pyhessian_trace(model, criterion, data, N_PROBES, cuda)}, repeats)
        rows.append(Row(task=f"trace, {N_PROBES} probes each (equal products)", unit="s", peer="PyHessian 0.1",
                        goal="none (diagnostic)", **ratios(t["peer"], t["wedges"])))
        theta_tr = trained(model, loss_fn, theta)  # also loads the trained weights into model, for PyHessian
        rows += trace_rows("MLP trained", model, criterion, data, theta_tr, loss_fn, 0.005)
    counter.take()
    if args.json:
        write_rows(args.json, rows)
    table = pd.DataFrame([dict(r.to_dict(), goal_met=r.goal_met) for r in rows]).set_index("task")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 60):
        print(table.drop(columns=["agreement_is"], errors="ignore").to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main(ARGS)
