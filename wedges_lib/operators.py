"""The curvature operators people use beside the Hessian — the generalised Gauss-Newton and the empirical
Fisher — and curvature per parameter block (layer), all through the estimators of :mod:`wedges_lib.curvature`.

Each operator is the Hessian, at theta0, of a transformed loss, so every estimator there (Lanczos top-k,
Hutchinson trace) computes it unchanged:

* **GGN** = J^T H_l J (J the Jacobian of the outputs, H_l the Hessian of the loss in the outputs) is the
  Hessian at theta0 of the loss of the *linearised* network, ``t -> l(f(theta0) + J (t - theta0))`` (the
  linearisation by ``torch.func.jvp``);
* **empirical Fisher** = (1/N) sum_n g_n g_n^T (g_n the gradient of example n's loss) is the Hessian at theta0
  of ``t -> mean_n (g_n . (t - theta0))^2 / 2``, where the N inner products are one ``jvp`` of the per-example
  losses — so the N x D matrix of per-example gradients is never formed.

The blocks are a network's layers (:func:`layer_blocks`, slices of theta); :func:`block_traces` estimates the
traces of every diagonal block H_bb from one set of full-length probes (z_b . (H z)_b has mean Tr H_bb).

For a network of Linear layers, :func:`ggn_trace` computes the GGN's trace (per layer too) exactly, with no
probe; for piecewise-linear activations (ReLU) that is the Hessian's trace.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import jvp

from . import curvature, params
from .curvature import Estimate
from .hessian import DatasetLoss, LossFn, hessian_operator
from .landscape import Landscape
from .objectives import prediction
from .validation import check_arg


def _per_batch(land: Landscape, make: Callable) -> LossFn:
    """A loss_fn from ``make(batch) -> loss of t on that batch``, weighted over the landscape's batches."""
    if len(land.batches) == 1:
        return make(land.batches[0])
    parts = {id(b): make(b) for b in land.batches}
    return DatasetLoss(lambda t, b: parts[id(b)](t), tuple(land.batches), tuple(land.weights))


def ggn_loss(land: Landscape, theta0: Tensor) -> LossFn:
    """A loss_fn whose Hessian at theta0 (D,) is the generalised Gauss-Newton matrix of ``land`` at theta0.

    The BatchNorm statistics are those :meth:`~wedges_lib.landscape.Landscape.loss_fn` holds fixed
    (recomputed at theta0 under ``recompute``). Pass it, with theta0, to any function of :mod:`wedges_lib.curvature`.

    Used in :ref:`ch-your-model`.
    """
    theta0 = theta0.detach()
    stats = land.fixed_statistics(theta0)

    def make(batch):
        def linearised(t: Tensor) -> Tensor:
            out0, dout = jvp(lambda s: prediction(land.output(s, batch, stats)), (theta0,), (t - theta0,))
            return land.objective.loss(out0.detach() + dout, batch)
        return linearised

    return _per_batch(land, make)


def ef_loss(land: Landscape, theta0: Tensor) -> LossFn:
    """A loss_fn whose Hessian at theta0 (D,) is the empirical Fisher (1/N) sum_n g_n g_n^T of ``land``'s loss.

    Needs an objective with per-example losses (N,). Under ``bn='train'`` each g_n includes the dependence of
    the batch statistics on theta.

    :ref:`ch-your-model` points its readers here for the empirical Fisher of their own model.
    """
    theta0 = theta0.detach()
    stats = land.fixed_statistics(theta0)

    def make(batch):
        def per_example(s: Tensor) -> Tensor:
            return land.objective.losses(land.output(s, batch, stats), batch)

        def fisher(t: Tensor) -> Tensor:
            _, g_dot = jvp(per_example, (theta0,), (t - theta0,))
            return 0.5 * g_dot.pow(2).mean()
        return fisher

    return _per_batch(land, make)


# --------------------------------------------------------------------------- exact traces

PIECEWISE_LINEAR = (nn.ReLU, nn.LeakyReLU, nn.Identity)  # activations whose second derivative is 0 (a.e.)


def _activation_grad(act: nn.Module, a: Tensor) -> Tensor:
    """The element-wise activation's derivative at a (forward mode, a tangent of ones)."""
    return jvp(act, (a,), (torch.ones_like(a),))[1]


@torch.no_grad()
def ggn_trace(model: nn.Module, theta: Tensor, x: Tensor, y: Tensor, *, batch: int = 256,
              by_layer: bool = False) -> float | dict[str, float]:
    """Tr of the generalised Gauss-Newton matrix of the mean cross-entropy on (x, y) at theta (D,), exactly, for a
    network of Linear layers and element-wise activations (:func:`wedges_lib.params.linear_plan`); ``by_layer``:
    the trace of each Linear layer's diagonal block instead, keyed as :func:`layer_blocks`.

    **For piecewise-linear activations** (``PIECEWISE_LINEAR``: ReLU, LeakyReLU, none) **this is Tr(H)**: the
    logits are linear in each single parameter, so the Hessian's diagonal is the GGN's (the rest of H, the
    logits' second derivatives weighted by the residuals, has a zero diagonal) — an exact trace, no probe, no
    standard error. How: GGN = (1/N) sum_n J_n^T S_n S_n^T J_n with S_n = diag(sqrt p) - p sqrt(p)^T (p the
    softmax), so Tr = (1/N) sum_{n,c} ||J_n^T S_n e_c||^2: the C columns of every S_n are back-propagated at
    once, and a Linear layer's per-example gradient is rank one, so its squared norm is ||delta||^2 (||h||^2 + 1
    with a bias). The cost is about C backward passes of the data (C classes), not one per probe.
    """
    plan = params.linear_plan(model)
    check_arg("model", type(model).__name__, plan is not None,
              "a Sequential of Linear layers and element-wise activations (params.linear_plan); for another "
              "network estimate the trace with curvature.trace_deflated on ggn_loss(...)")
    check_arg("batch", batch, isinstance(batch, int) and batch >= 1, "an int >= 1")
    layers = params.plan_layers(plan, theta.reshape(1, -1))
    names = list(layer_blocks(model))
    traces = torch.zeros(len(layers), dtype=torch.float64, device=theta.device)
    for xb, yb in zip(x.split(batch), y.split(batch)):
        h, li, saved = (xb.flatten(1) if plan.flatten else xb).to(theta), 0, []
        for step in plan.steps:  # forward: each Linear layer's input, each activation's derivative
            if step[0] == "act":
                saved.append(_activation_grad(step[1], h))
                h = step[1](h)
                continue
            W, b = layers[li]
            saved.append(h)
            h = h @ W[0].T + (b[0] if b is not None else 0)
            li += 1
        p = torch.softmax(h, -1)
        sq = p.sqrt()
        delta = torch.diag_embed(sq) - sq[:, :, None] * p[:, None, :]  # (B, C columns, C): S_n^T, row c = S_n e_c
        for step in reversed(plan.steps):
            got = saved.pop()
            if step[0] == "act":
                delta = delta * got[:, None, :]
                continue
            li -= 1
            W, b = layers[li]
            norms = delta.pow(2).sum(-1)  # ||delta||^2 per example and column
            traces[li] += (norms * (got.pow(2).sum(-1, keepdim=True) + (b is not None))).sum().double()
            if li:
                delta = delta @ W[0]
    traces /= len(y)
    return {n: float(t) for n, t in zip(names, traces)} if by_layer else float(traces.sum())


def is_piecewise_linear(model: nn.Module) -> bool:
    """True when :func:`ggn_trace` of ``model`` is its Hessian's trace: Linear layers and ``PIECEWISE_LINEAR``
    activations only.

    >>> is_piecewise_linear(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))), is_piecewise_linear(
    ...     nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))
    (True, False)
    """
    plan = params.linear_plan(model)
    return plan is not None and all(s[0] == "linear" or isinstance(s[1], PIECEWISE_LINEAR) for s in plan.steps)


# --------------------------------------------------------------------------- blocks


def layer_blocks(model: nn.Module) -> dict[str, slice]:
    """The parameters of each module (a layer), as slices of theta, by module name (in theta's order).

    >>> layer_blocks(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)))
    {'0': slice(0, 9, None), '2': slice(9, 13, None)}

    Used in :ref:`ch-your-model`.
    """
    lay, blocks, start = params.layout(model), {}, 0
    for name, size in zip(lay.names, lay.sizes):
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        s = blocks.get(owner)
        check_arg("model", name, s is None or s.stop == start, "a model whose layers' parameters are contiguous")
        blocks[owner] = slice(start if s is None else s.start, start + size)
        start += size
    return blocks


def block_traces(loss_fn: LossFn, theta: Tensor, blocks: dict[str, slice], *, n_probes: int = 100,
                 seed: int = 0, batch: int | None = None) -> dict[str, Estimate]:
    """Tr(H_bb) of every block at once, with standard errors: n_probes Rademacher probes z of full length, one
    product H z each (``batch`` vmapped at a time; None: :func:`wedges_lib.curvature.probe_batch`), and for
    block b the samples z_b . (H z)_b, whose mean is Tr(H_bb) (the cross terms have mean 0). Noisier per probe
    than probing a block alone, but the cost of one trace for all blocks.

    Used in :ref:`ch-your-model`.
    """
    check_arg("n_probes", n_probes, isinstance(n_probes, int) and n_probes >= 2, "an int >= 2")
    batch = curvature.probe_batch(theta, batch)
    op = hessian_operator(loss_fn, theta)
    gen = curvature._generator(seed, theta.device)
    samples: dict[str, list[Tensor]] = {name: [] for name in blocks}
    for start in range(0, n_probes, batch):
        z = curvature._rademacher((min(batch, n_probes - start), theta.numel()), theta, gen)
        hz = op(z)
        for name, block in blocks.items():
            samples[name].append((z[:, block] * hz[:, block]).sum(-1))
    return {name: curvature._estimate(torch.cat(s)) for name, s in samples.items()}
