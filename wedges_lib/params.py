"""The parameter-vector view of a network.

A network's parameters are one flat vector ``theta`` of shape (D,); a stack of K of them is (K, D).
The module only supplies the architecture: every evaluation goes through
``torch.func.functional_call``, so many parameter vectors can be evaluated in one ``vmap``-ed pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .batchnorm import check_policy
from .validation import check_arg


@dataclass(frozen=True)
class Layout:
    """Where each named parameter sits in the flat vector."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of entries of each parameter."""
        return tuple(s.numel() for s in self.shapes)

    @property
    def dim(self) -> int:
        """D, the length of the flat vector."""
        return sum(self.sizes)


def layout(model: nn.Module) -> Layout:
    """The flat-vector layout of ``model``'s parameters (in ``named_parameters`` order)."""
    named = list(model.named_parameters())
    return Layout(tuple(n for n, _ in named), tuple(p.shape for _, p in named))


def flatten(model: nn.Module) -> torch.Tensor:
    """``model``'s parameters as one detached flat vector theta, shape (D,)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(theta: torch.Tensor, lay: Layout) -> dict[str, torch.Tensor]:
    """Split theta (D,) into named tensors of ``lay``'s shapes (views; works under vmap and autograd)."""
    if theta.shape[-1] != lay.dim:
        raise ValueError(f"theta has {theta.shape[-1]} entries but the model has D = {lay.dim} parameters")
    return {n: t.view(s) for n, t, s in zip(lay.names, theta.split(lay.sizes), lay.shapes)}


def load_into(model: nn.Module, theta: torch.Tensor) -> nn.Module:
    """Copy theta (D,) into ``model``'s parameters in place and return the model."""
    with torch.no_grad():
        for p, v in zip(model.parameters(), unflatten(theta, layout(model)).values()):
            p.copy_(v)
    return model


def radius(theta: torch.Tensor) -> torch.Tensor:
    """The radius ‖theta‖₂ of a parameter vector (D,) -> (), or of each row of a stack (K, D) -> (K,)."""
    return torch.linalg.vector_norm(theta, dim=-1)


def stack(thetas: Sequence[torch.Tensor]) -> torch.Tensor:
    """K flat vectors (each (D,)) -> one stack (K, D) for vmap."""
    return torch.stack(list(thetas))


def _stateless(model: nn.Module) -> nn.Module:
    """``model``, checked to be a function of its parameters alone: a network with BatchNorm running
    statistics needs a policy, so it is evaluated through :class:`wedges_lib.landscape.Landscape` (``bn=``).

    >>> _stateless(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
    Traceback (most recent call last):
    ...
    ValueError: parameter 'bn': got None; the model has BatchNorm running statistics (1), so every ...
    """
    check_policy(model, None)
    return model


def forward(model: nn.Module, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits (N, C) of the network with parameters theta (D,) on inputs x (N, ...)."""
    _stateless(model)
    return functional_call(model, unflatten(theta, layout(model)), (x,))


def loss(model: nn.Module, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy () of parameters theta (D,) on the batch (x, y)."""
    return batch_loss(model)(theta, x, y)


def batch_loss(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """(theta (D,), xb, yb) -> mean cross-entropy () of the network on the minibatch: the one minibatch loss
    that training loops ``vmap`` (over stacked thetas, or over curve points with a shared batch)."""
    lay = layout(_stateless(model))
    return lambda theta, xb, yb: F.cross_entropy(functional_call(model, unflatten(theta, lay), (xb,)), yb)


def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """theta (D,) -> mean cross-entropy on (x, y): the form curvature and surface tools take."""
    f = batch_loss(model)
    return lambda theta: f(theta, x, y)


# ---------------------------------------------------------------- the bmm path for stacks of Linear networks

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Identity)


@dataclass(frozen=True)
class LinearPlan:
    """How to evaluate a stack of K parameter vectors of a network made of Linear layers and element-wise
    activations with batched matrix products instead of ``vmap``: per step either ``("linear", weight
    index, out, in, bias index or -1)`` (indices into the layout's parameters) or ``("act", module)``;
    ``flatten``: the input is flattened first."""

    steps: tuple
    flatten: bool
    sizes: tuple[int, ...] = ()  # the layout's sizes: theta is split into its parameters once


def linear_plan(model: nn.Module) -> LinearPlan | None:
    """The :class:`LinearPlan` of ``model`` when it is an ``nn.Sequential`` of (a leading ``Flatten``,) ``Linear``
    layers and element-wise activations (``ELEMENTWISE``) with no buffers; None for any other model."""
    if not isinstance(model, nn.Sequential) or any(True for _ in model.buffers()):
        return None
    lay = layout(model)
    index = {name: i for i, name in enumerate(lay.names)}
    steps, flatten, seen_linear = [], False, False
    for i, m in enumerate(model):
        if isinstance(m, nn.Flatten) and not seen_linear and m.start_dim == 1 and m.end_dim == -1:
            flatten = True
        elif type(m) is nn.Linear:
            steps.append(("linear", index[f"{i}.weight"], m.out_features, m.in_features, index.get(f"{i}.bias", -1)))
            seen_linear = True
        elif isinstance(m, ELEMENTWISE) and seen_linear:
            steps.append(("act", m))
        else:
            return None
    return LinearPlan(tuple(steps), flatten, lay.sizes) if seen_linear and steps[-1][0] == "linear" else None


class _StackedLinear(torch.autograd.Function):
    """h (K, B, in) @ W (K, out, in)^T + b (K, out): a backward whose weight gradient comes out (K, out, in),
    contiguous, as one bmm (autograd's own would be transposed and copied), and no input gradient for data."""

    @staticmethod
    def forward(ctx, h, W, b):
        ctx.save_for_backward(h, W)
        ctx.has_bias = b is not None
        out = torch.bmm(h, W.transpose(1, 2))
        return out.add_(b[:, None, :]) if b is not None else out

    @staticmethod
    def backward(ctx, g):
        h, W = ctx.saved_tensors
        gh = torch.bmm(g, W) if ctx.needs_input_grad[0] else None
        gW = torch.bmm(g.transpose(1, 2), h)
        return gh, gW, (g.sum(1) if ctx.has_bias else None)


def stacked_forward(plan: LinearPlan, thetas: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits (K, B, C) of the K networks thetas (K, D) on their own inputs x (K, B, ...). Differentiable: autograd
    gives the gradient, each layer's as two ``torch.bmm``."""
    K = thetas.shape[0]
    h = x.reshape(*x.shape[:2], -1) if plan.flatten else x
    check_arg("x", tuple(x.shape), h.ndim == 3, "(K, B, in), one batch per member")
    parts = thetas.split(plan.sizes, dim=1)  # one split: its backward is one concatenation
    for step in plan.steps:
        if step[0] == "act":
            h = step[1](h)
            continue
        _, ow, n_out, n_in, ob = step
        h = _StackedLinear.apply(h, parts[ow].view(K, n_out, n_in), parts[ob] if ob >= 0 else None)
    return h


def plan_layers(plan: LinearPlan, thetas: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Each Linear layer of the K networks thetas (K, D) as views (W (K, out, in), b (K, 1, out) or None), the
    form :func:`forward_from` takes."""
    K, parts = thetas.shape[0], thetas.split(plan.sizes, dim=1)
    return [(parts[s[1]].view(K, s[2], s[3]), parts[s[4]][:, None] if s[4] >= 0 else None)
            for s in plan.steps if s[0] == "linear"]


@torch.no_grad()
def forward_from(plan: LinearPlan, layers: list, h: torch.Tensor, start: int = 0,
                 stop: int | None = None) -> torch.Tensor:
    """Logits (K, B, C) of K networks given as :func:`plan_layers`, from ``h`` (K, B, ...), the input of
    ``plan.steps[start]`` (0: the data; 1: the first layer's pre-activations, which a ReLU then overwrites);
    with ``stop``, the output of ``plan.steps[stop - 1]`` instead of the logits.
    Evaluation only: one fused ``torch.baddbmm`` per layer, ReLU in place (the fewest passes over memory, which
    a CPU needs)."""
    li = sum(1 for s in plan.steps[:start] if s[0] == "linear")
    h = h.flatten(2) if plan.flatten and start == 0 else h
    for step in plan.steps[start:stop]:
        if step[0] == "act":
            h = torch.relu_(h) if type(step[1]) is nn.ReLU else step[1](h)
            continue
        W, b = layers[li]  # (K, out, in): its transposed view is as fast as a copy, twice as fast for small out
        h = torch.bmm(h, W.transpose(1, 2)) if b is None else torch.baddbmm(b, h, W.transpose(1, 2))
        li += 1
    return h


def ce_sums(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy (K,) and number correct (K,) of logits (K, B, C) against labels y (B,)."""
    picked = logits.gather(-1, y.expand(len(logits), -1)[..., None])[..., 0]
    return (torch.logsumexp(logits, -1) - picked).sum(1), (logits.argmax(-1) == y).sum(1)


def _relu_loss_and_grad(plan: LinearPlan, thetas: torch.Tensor, xb: torch.Tensor,
                        yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's mean cross-entropy (K,) and its gradient (K, D), written out for Linear / ReLU stacks:
    one product per layer forwards, two backwards, ReLU in place and its mask in one pass, no autograd graph
    (the fewest passes over memory: what a 2-core CPU needs)."""
    K, B = yb.shape
    layers = plan_layers(plan, thetas)
    hs = [xb.reshape(K, B, -1) if plan.flatten else xb]
    for i, (W, b) in enumerate(layers):
        a = torch.bmm(hs[-1], W.transpose(1, 2))
        a = a if b is None else a.add_(b)  # bmm then add, not baddbmm: bit for bit the gradients of before
        if i < len(layers) - 1:
            hs.append(a.relu_())  # the mask of ReLU' is h > 0
    logp = torch.log_softmax(a, -1)
    loss = -logp.gather(-1, yb[..., None]).squeeze(-1).mean(1)
    g = logp.exp_()  # d(mean CE)/d logits = (softmax - onehot) / B
    g.scatter_add_(-1, yb[..., None], torch.full((K, B, 1), -1.0, dtype=g.dtype, device=g.device)).div_(B)
    grads: list = [None] * len(plan.sizes)
    for i, (_, iw, _, _, ib) in reversed(list(enumerate(s for s in plan.steps if s[0] == "linear"))):
        grads[iw] = torch.bmm(g.transpose(1, 2), hs[i]).view(K, -1)
        if ib >= 0:
            grads[ib] = g.sum(1)
        if i:
            g = torch.ops.aten.threshold_backward(torch.bmm(g, layers[i][0]), hs[i], 0.0)
    return loss, torch.cat(grads, dim=1)


class _ReluStackLoss(torch.autograd.Function):
    """Per-member mean cross-entropy whose backward is :func:`_relu_loss_and_grad`'s gradient (first order)."""

    @staticmethod
    def forward(ctx, thetas, plan, xb, yb):
        loss, grads = _relu_loss_and_grad(plan, thetas, xb, yb)
        ctx.save_for_backward(grads)
        return loss

    @staticmethod
    def backward(ctx, g):
        (grads,) = ctx.saved_tensors
        return (grads if bool((g == 1).all()) else g[:, None] * grads), None, None, None


def _is_relu_chain(plan: LinearPlan) -> bool:
    kinds = [s[0] if s[0] == "linear" else type(s[1]) for s in plan.steps]
    return kinds[::2] == ["linear"] * len(kinds[::2]) and all(k is nn.ReLU for k in kinds[1::2])


def stacked_loss(model: nn.Module, path: str = "auto") -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                                                                   torch.Tensor]:
    """(thetas (K, D), xb (K, B, ...), yb (K, B)) -> each member's mean cross-entropy (K,) on its own minibatch.

    ``path="bmm"`` (the default ``"auto"`` where :func:`linear_plan` applies) batches the K members' matrix
    products (``torch.bmm``; for Linear / ReLU chains with the gradient written out, so the loss can be
    differentiated once, not twice); ``"vmap"`` vmaps :func:`batch_loss`. Both give the same numbers up to
    float rounding."""
    plan = linear_plan(model) if path in ("auto", "bmm") else None
    if path == "bmm" and plan is None:
        raise ValueError("parameter 'path': 'bmm' needs a Sequential of Linear layers and element-wise "
                         "activations; use 'auto' or 'vmap'")
    if path not in ("auto", "bmm", "vmap"):
        raise ValueError(f"parameter 'path': got {path!r}; expected one of auto, bmm, vmap")
    if plan is None:
        return vmap(batch_loss(model))
    if _is_relu_chain(plan):  # Linear, ReLU, ..., Linear: the gradient written out (first order only)
        return lambda thetas, xb, yb: _ReluStackLoss.apply(thetas, plan, xb, yb)

    def loss(thetas, xb, yb):
        logits = stacked_forward(plan, thetas, xb)
        K, B, C = logits.shape
        return F.cross_entropy(logits.reshape(K * B, C), yb.reshape(-1), reduction="none").view(K, B).mean(1)

    return loss


def default_sizes(device) -> tuple[int, int]:
    """(chunk, batch): parameter vectors per vmapped pass and examples per data batch, by device.

    On a CPU the pass is compute-bound and large batched activations fall out of cache, so small passes
    are fastest (16 vectors x 256 examples measured ~1.9x faster than 64 x 8192 for an MLP
    40-256-256-10 on 2 cores); a GPU wants large passes. On one thread (how the book runs each chapter) 4, 8 or
    16 vectors cost the same within 3 % (CPU seconds of :func:`evaluate` and
    :func:`~wedges_lib.surfaces.evaluate_affine`, 64 points on 4000 examples, MLPs 40-128-128-10 and
    40-256-256-10: 0.23 / 0.23 / 0.23 s and 0.61 / 0.62 / 0.60 s), although the bare products alone ran ~10 %
    faster with 4 or 8; so it stays 16, whatever the thread count. Each point's values do not depend on the
    chunk (bit for bit).
    """
    return (16, 256) if torch.device(device).type == "cpu" else (64, 8192)


@torch.no_grad()
def evaluate(model: nn.Module, thetas: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
             chunk: int | None = None, batch: int | None = None,
             path: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and accuracy of each parameter vector on the whole (x, y).

    ``thetas`` is (D,) -> two scalars, or (K, D) -> two (K,) tensors. Vectors are vmapped ``chunk``
    at a time and the data is streamed ``batch`` examples at a time, which bounds memory; None takes
    :func:`default_sizes` for the device. ``path``: as in :func:`stacked_loss` (``"bmm"`` where the model
    allows it, by default).

    Used in :ref:`ch-quickstart` and :ref:`ch-sets`.
    """
    _stateless(model)
    dc, db = default_sizes(thetas.device)
    chunk, batch = chunk or dc, batch or db
    single = thetas.ndim == 1
    thetas = thetas[None] if single else thetas
    lay = layout(model)

    def sums(theta, xb, yb):
        logits = functional_call(model, unflatten(theta, lay), (xb,))
        return F.cross_entropy(logits, yb, reduction="sum"), (logits.argmax(-1) == yb).sum()

    per_point = vmap(sums, in_dims=(0, None, None))
    stacked_loss(model, path)  # checks path
    plan = linear_plan(model) if path != "vmap" else None
    if plan is not None:
        def per_point(th, xb, yb):  # noqa: F811  (the bmm path: one fused product per layer for the chunk)
            return ce_sums(forward_from(plan, plan_layers(plan, th), xb.expand(len(th), *xb.shape)), yb)
    losses, correct = [], []
    for th in thetas.split(chunk):
        l_sum = torch.zeros(len(th), device=th.device)
        c_sum = torch.zeros(len(th), device=th.device)
        for xb, yb in zip(x.split(batch), y.split(batch)):
            batch_loss, batch_correct = per_point(th, xb, yb)
            l_sum += batch_loss
            c_sum += batch_correct
        losses.append(l_sum / len(y))
        correct.append(c_sum / len(y))
    loss_, acc = torch.cat(losses), torch.cat(correct)
    return (loss_[0], acc[0]) if single else (loss_, acc)


def interpolate(a: torch.Tensor, b: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Points (1 - t) a + t b on the straight line through a, b (D,) for each t in ts (T,) -> (T, D).

    >>> interpolate(torch.tensor([0.0, 2.0]), torch.tensor([4.0, 2.0]), torch.tensor([0.0, 0.25, 1.0])).tolist()
    [[0.0, 2.0], [1.0, 2.0], [4.0, 2.0]]

    Used in :ref:`ch-quickstart`.
    """
    return a[None] + ts[:, None].to(a) * (b - a)[None]
