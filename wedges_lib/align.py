"""Permutation alignment: permute one network's hidden units to match another's, the function unchanged.

Hidden units (rows of a Linear layer, output channels of a convolution) can be permuted, with the next layer's
columns permuted alike, without changing what the network computes; two independently trained networks are
compared fairly only after one has been aligned to the other (Entezari et al. 2022; Ainsworth, Hayase &
Srinivasa 2023, "Git Re-Basin"). Two methods:

* :func:`weight_matching`: Ainsworth et al.'s coordinate descent. For one hidden layer at a time (in a random
  order) the permutation P_l maximising sum_l <W_l^ref, P_l W_l P_{l-1}^T> given the others is a linear
  assignment (scipy's ``linear_sum_assignment``); sweeps repeat until no layer's permutation improves.
* :func:`activation_matching`: each hidden layer's units matched by the correlation of their activations on
  data x (the post-activation output of the layer, over examples and positions): one assignment per layer.

A set of networks is aligned either to one member (:func:`align_all`, a star) or jointly by Ainsworth et al.'s
MergeMany (:func:`merge_many`): each member in turn is weight-matched to the mean of the others, until a round
changes no member.

Supported: an ``nn.Sequential`` chain of Linear / Conv1d / Conv2d layers with element-wise activations,
pooling, dropout, ``Flatten`` (a convolution's channels become blocks of the next Linear layer's columns),
an ``Unflatten`` or ``Flatten`` before the first layer, and ``GroupNorm``: a GroupNorm of G groups normalises
each group of channels together, so its layer's units are only permuted within their groups (which keeps every
group's statistics); any parameter-free module may follow the output layer. That covers the book's ``mlp``,
``mlp_invariant``, ``cnn1d`` and ``cifar_cnn``; the ``resnet`` (residual blocks share permutations across the
skip connections) is refused with a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from . import params
from .validation import check_arg

METHODS = ("weight", "activation")
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
_PASS = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU, nn.Identity, nn.Dropout,
         nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
_SUPPORTED = ("an nn.Sequential chain of Linear / Conv1d / Conv2d layers with element-wise activations, pooling, "
              "GroupNorm and Flatten (the book's 'mlp', 'cnn1d', 'cifar_cnn'; not 'resnet')")


@dataclass(frozen=True)
class Spec:
    """Where each hidden layer's permutation acts: ``axes`` maps a parameter name to (its view shape, the
    permutation index per axis of that view, or -1); ``sizes`` (L,) the units per hidden layer; ``groups`` (L,)
    the blocks each layer's units are permuted within (1: free); ``acts`` (L,) the index of the module after which
    layer l's activations are read (activation matching)."""

    axes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    sizes: tuple[int, ...]
    groups: tuple[int, ...]
    acts: tuple[int, ...]


def spec(model: nn.Module) -> Spec:
    """The permutation structure of ``model`` (see the module's docstring for what is supported).

    >>> from wedges_lib import models
    >>> s = spec(models.make("mlp", (40,), 10, width=0.25))
    >>> s.sizes, s.axes["3.weight"][1]  # two hidden layers of 64; layer 2's weight: rows P1, columns P0
    ((64, 64), (1, 0))
    """
    check_arg("model", type(model).__name__, isinstance(model, nn.Sequential), _SUPPORTED)
    mods = list(model.named_children())
    weighted = [i for i, (_, m) in enumerate(mods) if isinstance(m, _WEIGHTED)]
    check_arg("model", type(model).__name__, len(weighted) >= 1, _SUPPORTED + ": it has no Linear or conv layer")
    axes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    sizes, groups, acts = [], [], []
    prev = -1  # the permutation index of the current input's features (-1: the input itself)
    flat_block = 0  # > 0 after a Flatten that follows a permuted conv: its channels' spatial block size
    for i, (name, m) in enumerate(mods):
        last = i == weighted[-1]
        if isinstance(m, _WEIGHTED):
            check_arg("model", f"{name}: {m}", m.weight.ndim >= 2 and all(
                getattr(m, k, v) == v for k, v in (("groups", 1), ("padding_mode", "zeros"))),
                _SUPPORTED + " (convolutions with groups=1)")
            cur = -1 if last else len(sizes)
            shape = tuple(m.weight.shape)
            if flat_block:
                view, ax = (shape[0], shape[1] // flat_block, flat_block), (cur, prev, -1)
            else:
                check_arg("model", f"{name}: {m}", prev < 0 or shape[1] == sizes[prev], _SUPPORTED)
                view, ax = shape, (cur, prev) + (-1,) * (len(shape) - 2)
            axes[f"{name}.weight"] = (view, ax)
            if m.bias is not None:
                axes[f"{name}.bias"] = ((shape[0],), (cur,))
            if not last:
                sizes.append(shape[0])
                groups.append(1)
                acts.append(i)
            prev, flat_block = cur, 0
        elif isinstance(m, nn.GroupNorm):
            check_arg("model", f"{name}: {m}", prev >= 0 and m.num_channels == sizes[prev], _SUPPORTED +
                      " (a GroupNorm after a hidden layer, over its channels)")
            groups[prev] = m.num_groups
            acts[prev] = i
            for p in ("weight", "bias"):
                if getattr(m, p) is not None:
                    axes[f"{name}.{p}"] = ((m.num_channels,), (prev,))
        elif isinstance(m, nn.Flatten) and prev >= 0:  # a conv's (C, *spatial) map: the next Linear's columns
            nxt = mods[next(j for j in weighted if j > i)]  # come in C blocks of the spatial size
            cols = nxt[1].weight.shape[1]
            check_arg("model", f"{nxt[0]}: {nxt[1]}", isinstance(nxt[1], nn.Linear) and cols % sizes[prev] == 0,
                      _SUPPORTED)
            flat_block = cols // sizes[prev]
        elif isinstance(m, (nn.Flatten, nn.Unflatten)):
            check_arg("model", f"{name}: {m}", prev == -1, _SUPPORTED + " (Unflatten only before the first layer)")
        elif isinstance(m, _PASS):
            if prev >= 0 and i < weighted[-1]:
                acts[prev] = i
        elif i < weighted[-1] or any(True for _ in m.parameters()):  # after the output layer: parameter-free
            check_arg("model", f"{name}: {type(m).__name__}", False, _SUPPORTED)
    named = dict(model.named_parameters())
    missing = sorted(set(named) - set(axes))
    check_arg("model", missing, not missing, _SUPPORTED + " (every parameter in a supported layer)")
    for g, n in zip(groups, sizes):
        check_arg("model", f"GroupNorm of {g} groups over {n} channels", n % g == 0, _SUPPORTED)
    return Spec(axes, tuple(sizes), tuple(groups), tuple(acts))


def _select(t: torch.Tensor, view: tuple[int, ...], ax: tuple[int, ...], perms: list[torch.Tensor],
            skip: tuple[int, int] | None = None) -> torch.Tensor:
    """t viewed as ``view`` with permutation perms[p] applied along every axis marked p (except ``skip``,
    (axis, p))."""
    t = t.reshape(view)
    for d, p in enumerate(ax):
        if p >= 0 and (d, p) != skip:
            t = t.index_select(d, perms[p])
    return t


def permute(model: nn.Module, theta: torch.Tensor, perms: list[torch.Tensor], s: Spec | None = None
            ) -> torch.Tensor:
    """theta (D,) with hidden layer l's units reordered by perms[l] (new unit i = old unit perms[l][i]): the same
    function, a different point, (D,).

    >>> from wedges_lib import models
    >>> net = models.make("mlp", (40,), 10, width=0.25)
    >>> theta, x = params.flatten(net), torch.randn(5, 40)
    >>> perms = random_perms(net, seed=0)
    >>> torch.allclose(params.forward(net, permute(net, theta, perms), x), params.forward(net, theta, x), atol=1e-6)
    True
    """
    s = s or spec(model)
    check_arg("perms", len(perms), len(perms) == len(s.sizes), f"{len(s.sizes)} permutations (one per hidden layer)")
    lay = params.layout(model)
    named = params.unflatten(theta, lay)
    return torch.cat([_select(named[n], *s.axes[n], perms).reshape(-1) for n in lay.names])


def random_perms(model: nn.Module, seed: int = 0) -> list[torch.Tensor]:
    """One random permutation per hidden layer of ``model`` (within GroupNorm groups), drawn from ``seed``."""
    s, g = spec(model), torch.Generator().manual_seed(seed)
    out = []
    for n, k in zip(s.sizes, s.groups):
        m = n // k
        out.append(torch.cat([j * m + torch.randperm(m, generator=g) for j in range(k)]))
    return out


def _assign(cost: np.ndarray, groups: int) -> np.ndarray:
    """The permutation (n,) maximising sum_i cost[i, perm[i]], within ``groups`` diagonal blocks."""
    n = len(cost)
    m = n // groups
    perm = np.empty(n, dtype=np.int64)
    for j in range(groups):
        sl = slice(j * m, (j + 1) * m)
        _, col = linear_sum_assignment(cost[sl, sl], maximize=True)
        perm[sl] = col + j * m
    return perm


def _check_pair(model: nn.Module, theta_ref: torch.Tensor, theta: torch.Tensor) -> Spec:
    s = spec(model)
    dim = params.layout(model).dim
    check_arg("theta_ref", tuple(theta_ref.shape), theta_ref.shape == (dim,), f"a vector of shape ({dim},)")
    check_arg("theta", tuple(theta.shape), theta.shape == (dim,), f"a vector of shape ({dim},)")
    return s


@torch.no_grad()
def weight_matching(model: nn.Module, theta_ref: torch.Tensor, theta: torch.Tensor, *, max_iter: int = 100,
                    seed: int = 0) -> torch.Tensor:
    """theta (D,) permuted to match theta_ref (D,) by weight matching (Ainsworth et al. 2023): the same function
    as theta, (D,). Coordinate descent over the hidden layers in an order drawn from ``seed``, at most
    ``max_iter`` sweeps, stopped when a sweep improves no layer. Used in :ref:`ch-pairs`."""
    s = _check_pair(model, theta_ref, theta)
    check_arg("max_iter", max_iter, isinstance(max_iter, int) and max_iter >= 1, "an int >= 1")
    lay = params.layout(model)
    ref, cur = params.unflatten(theta_ref.double(), lay), params.unflatten(theta.double(), lay)
    perms = [torch.arange(n, device=theta.device) for n in s.sizes]
    rng = np.random.default_rng(seed)
    touching = {p: [(n, d) for n, (_, ax) in s.axes.items() for d, q in enumerate(ax) if q == p]
                for p in range(len(s.sizes))}
    for _ in range(max_iter):
        improved = False
        for p in rng.permutation(len(s.sizes)):
            cost = torch.zeros(s.sizes[p], s.sizes[p], dtype=torch.float64, device=theta.device)
            for n, d in touching[p]:
                view, ax = s.axes[n]
                a = ref[n].reshape(view).movedim(d, 0).reshape(s.sizes[p], -1)
                b = _select(cur[n], view, ax, perms, skip=(d, p)).movedim(d, 0).reshape(s.sizes[p], -1)
                cost += a @ b.T
            c = cost.cpu().numpy()
            new = _assign(c, s.groups[p])
            old = perms[p].cpu().numpy()
            if c[np.arange(len(c)), new].sum() > c[np.arange(len(c)), old].sum() + 1e-12:
                perms[p] = torch.as_tensor(new, device=theta.device)
                improved = True
        if not improved:
            break
    return permute(model, theta, perms, s)


def hidden_activations(model: nn.Module, theta: torch.Tensor, x: torch.Tensor, s: Spec | None = None
                       ) -> list[torch.Tensor]:
    """Each hidden layer's activations (N * positions, units) for parameters theta (D,) on inputs x (N, ...):
    the output of the module after which :class:`Spec` reads layer l (its activation, pooling or GroupNorm)."""
    s = s or spec(model)
    out: dict[int, torch.Tensor] = {}
    named = params.unflatten(theta, params.layout(model))
    h = x
    with torch.no_grad():
        for i, (name, m) in enumerate(model.named_children()):
            own = {k.split(".", 1)[1]: v for k, v in named.items() if k.split(".", 1)[0] == name}
            h = torch.func.functional_call(m, own, (h,)) if own else m(h)
            out[i] = h
    return [out[i].movedim(1, -1).reshape(-1, n) for i, n in zip(s.acts, s.sizes)]


@torch.no_grad()
def activation_matching(model: nn.Module, theta_ref: torch.Tensor, theta: torch.Tensor, x: torch.Tensor
                        ) -> torch.Tensor:
    """theta (D,) permuted to match theta_ref (D,) by activation matching: each hidden layer's units assigned
    to maximise the summed correlation of their activations on inputs x (N, ...) with the reference's (units
    silent on x correlate 0). The same function as theta, (D,). Used in :ref:`ch-pairs`."""
    s = _check_pair(model, theta_ref, theta)
    check_arg("x", type(x).__name__, isinstance(x, torch.Tensor) and len(x) >= 2, "a tensor of >= 2 inputs")
    perms = []
    for a, b, k in zip(hidden_activations(model, theta_ref, x, s), hidden_activations(model, theta, x, s),
                       s.groups):
        a, b = a.double() - a.double().mean(0), b.double() - b.double().mean(0)
        a = a / a.norm(dim=0).clamp_min(1e-12)
        b = b / b.norm(dim=0).clamp_min(1e-12)
        perms.append(torch.as_tensor(_assign((a.T @ b).cpu().numpy(), k), device=theta.device))
    return permute(model, theta, perms, s)


def align(model: nn.Module, theta_ref: torch.Tensor, theta: torch.Tensor, *, method: str = "weight",
          x: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """theta (D,) aligned to theta_ref (D,) by ``method`` ('weight' or 'activation', which needs inputs x)."""
    check_arg("method", method, method in METHODS, f"one of {', '.join(METHODS)}")
    if method == "weight":
        return weight_matching(model, theta_ref, theta, seed=seed)
    check_arg("x", None if x is None else type(x).__name__, x is not None, "inputs (N, ...) for method='activation'")
    return activation_matching(model, theta_ref, theta, x)


def align_all(model: nn.Module, theta_ref: torch.Tensor, thetas: torch.Tensor, *, method: str = "weight",
              x: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Every row of thetas (K, D) aligned to theta_ref (D,) by ``method`` (see :func:`align`), (K, D); a row
    equal to theta_ref stays itself. Used in :ref:`ch-sets` and :ref:`ch-ensembles` (through
    :mod:`wedges_lib.studies.ch05_sets` and :mod:`wedges_lib.studies.ch06_ensembles`)."""
    check_arg("thetas", tuple(thetas.shape), thetas.ndim == 2, "a stack (K, D)")
    return torch.stack([align(model, theta_ref, t, method=method, x=x, seed=seed) for t in thetas])


def merge_many(model: nn.Module, thetas: torch.Tensor, *, max_rounds: int = 10, seed: int = 0) -> torch.Tensor:
    """The rows of thetas (K, D) aligned jointly by MergeMany (Ainsworth et al. 2023, their Algorithm 3): in each
    round, in an order drawn from ``seed``, member i is weight-matched (:func:`weight_matching`) to the mean of the
    others; rounds repeat until one changes no member (a fixed point) or ``max_rounds`` have run. Each row computes
    what it did, (K, D); the first member is permuted too (no member is the reference). Used in :ref:`ch-sets`
    (through :mod:`wedges_lib.studies.ch05_sets`)."""
    check_arg("thetas", tuple(thetas.shape), thetas.ndim == 2 and len(thetas) >= 2, "a stack (K, D) with K >= 2")
    check_arg("max_rounds", max_rounds, isinstance(max_rounds, int) and max_rounds >= 1, "an int >= 1")
    cur = thetas.detach().clone()
    rng = np.random.default_rng(seed)
    for r in range(max_rounds):
        changed = False
        for i in rng.permutation(len(cur)):
            others = (cur.sum(0) - cur[i]) / (len(cur) - 1)
            new = weight_matching(model, others, cur[i], seed=seed + r)
            if not torch.equal(new, cur[i]):
                cur[i], changed = new, True
        if not changed:
            break
    return cur
