"""Predictions of ensemble members and how diverse they are in function space (and weight space).

Every measure takes member probabilities ``probs`` of shape (K, N, C) from :func:`predict` (members
(K, D) evaluated with ``torch.func`` in one vmapped pass) and returns a per-pair matrix (K, K) or a
scalar: disagreement, KL and Jensen–Shannon divergences, cosine similarities; plus accuracy, NLL and
calibration (ECE) of an ensemble's mean prediction. In weight space: the cosine of members'
displacements, the loss barrier on the straight line between members (:func:`linear_barriers`) and the
loss at their centroid (:func:`centroid_loss`). Used by :mod:`wedges_lib.ensembles`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from . import params


@torch.no_grad()
def predict(model: nn.Module, members: torch.Tensor, x: torch.Tensor, *, chunk: int = 64,
            batch: int = 8192) -> torch.Tensor:
    """Softmax probabilities of each member: members (..., D), x (N, ...) -> (..., N, C), vmapped over members."""
    lead, flat = members.shape[:-1], members.reshape(-1, members.shape[-1])
    probs_of = vmap(lambda th, xb: params.forward(model, th, xb).softmax(-1), in_dims=(0, None))
    out = torch.cat([torch.cat([probs_of(th, xb) for xb in x.split(batch)], dim=1) for th in flat.split(chunk)])
    return out.reshape(*lead, *out.shape[1:])


def _log(p: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return p.clamp_min(eps).log()


def nll(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood () of labels y (N,) under probabilities (N, C) (clamped at 1e-12)."""
    return -_log(probs.gather(-1, y[:, None])).mean()


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction () of labels y (N,) that the argmax of probabilities (N, C) gets right."""
    return (probs.argmax(-1) == y).float().mean()


def ece(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> torch.Tensor:
    """Expected calibration error: sum over equal-width confidence bins of ``|B|/N·|acc(B) − conf(B)|``."""
    if n_bins < 1:
        raise ValueError(f"parameter 'n_bins': got {n_bins!r}; expected an int >= 1")
    conf, pred = probs.max(-1)
    correct = (pred == y).float()
    bins = (conf * n_bins).long().clamp(0, n_bins - 1)
    count = torch.zeros(n_bins, dtype=conf.dtype, device=conf.device).index_add_(0, bins, torch.ones_like(conf))
    gap = torch.zeros_like(count).index_add_(0, bins, correct - conf)  # sum of (acc − conf) per bin
    return gap.abs().sum() / len(y)


def ensemble_curve(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> dict[str, torch.Tensor]:
    """Accuracy, NLL and ECE of the ensemble of the first m members, m = 1..K: probs (K, N, C) -> each (K,)."""
    K = probs.shape[0]
    mean_m = probs.cumsum(0) / torch.arange(1, K + 1, dtype=probs.dtype, device=probs.device)[:, None, None]
    return {name: torch.stack([f(p, y) for p in mean_m]) for name, f in
            (("acc", accuracy), ("nll", nll), ("ece", lambda p, t: ece(p, t, n_bins)))}


def disagreement(probs: torch.Tensor) -> torch.Tensor:
    """Fraction of inputs on which members i and j predict different classes: probs (K, N, C) -> (K, K).

    >>> probs = torch.tensor([[[0.9, 0.1], [0.8, 0.2]],   # member 0 predicts classes 0, 0
    ...                       [[0.6, 0.4], [0.3, 0.7]],   # member 1: 0, 1
    ...                       [[0.2, 0.8], [0.1, 0.9]]])  # member 2: 1, 1
    >>> disagreement(probs).tolist()
    [[0.0, 0.5, 1.0], [0.5, 0.0, 0.5], [1.0, 0.5, 0.0]]

    Used in :ref:`ch-ensembles`.
    """
    labels = probs.argmax(-1)
    return (labels[:, None] != labels[None]).float().mean(-1)


def kl_matrix(probs: torch.Tensor) -> torch.Tensor:
    """Mean over inputs of KL(p_i ‖ p_j) in nats: probs (K, N, C) -> (K, K) (log clamped at 1e-12)."""
    n = probs.shape[1]
    logp = _log(probs)
    self_term = (probs * logp).sum((1, 2))
    cross = torch.einsum("inc,jnc->ij", probs, logp)
    return ((self_term[:, None] - cross) / n).clamp_min(0)


def js_matrix(probs: torch.Tensor) -> torch.Tensor:
    """Mean over inputs of the Jensen–Shannon divergence between members in nats (<= ln 2): (K, N, C) -> (K, K)."""
    K = probs.shape[0]
    out = torch.zeros(K, K, dtype=probs.dtype, device=probs.device)
    plogp = (probs * _log(probs)).sum(-1)  # (K, N)
    for i in range(K):
        m = 0.5 * (probs[i][None] + probs)  # (K, N, C)
        cross = 0.5 * ((probs[i][None] + probs) * _log(m)).sum(-1)  # (K, N): (p_i + p_j)/2 · log m
        out[i] = (0.5 * (plogp[i][None] + plogp) - cross).mean(-1)
    return out.clamp_min(0)


def _cosine_gram(v: torch.Tensor) -> torch.Tensor:
    v = F.normalize(v.reshape(v.shape[0], -1), dim=1)
    return v @ v.T


def prediction_cosine(probs: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the members' flattened probability vectors: probs (K, N, C) -> (K, K)."""
    return _cosine_gram(probs)


def weight_cosine(members: torch.Tensor, origins: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity of displacements θ_i − origin_i: members (K, D), origins None, (D,) or (K, D) -> (K, K)."""
    return _cosine_gram(members if origins is None else members - origins)


def offdiag_mean(m: torch.Tensor) -> torch.Tensor:
    """Mean of the off-diagonal entries of (..., K, K) -> (...) (NaN for K = 1).

    >>> offdiag_mean(torch.tensor([[1.0, 0.25], [0.75, 1.0]])).item()
    0.5
    """
    K = m.shape[-1]
    mask = ~torch.eye(K, dtype=torch.bool, device=m.device)
    return m[..., mask].mean(-1)


@torch.no_grad()
def linear_barriers(model: nn.Module, members: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                    n_interp: int = 11) -> torch.Tensor:
    """Loss barrier of the straight line between each pair of members (K, D) -> (K, K), symmetric, zero diagonal.

    barrier(i, j) = max over t of L((1 − t)θ_i + tθ_j) − ((1 − t)L(θ_i) + tL(θ_j)), on ``n_interp`` points.
    """
    if n_interp < 3:
        raise ValueError(f"parameter 'n_interp': got {n_interp!r}; expected an int >= 3")
    K = members.shape[0]
    ts = torch.linspace(0, 1, n_interp, device=members.device)
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    out = torch.zeros(K, K, device=members.device)
    if not pairs:
        return out
    path = torch.cat([params.interpolate(members[i], members[j], ts) for i, j in pairs])
    losses, _ = params.evaluate(model, path, x, y)
    losses = losses.reshape(len(pairs), n_interp)
    chord = (1 - ts) * losses[:, :1] + ts * losses[:, -1:]
    heights = (losses - chord).amax(-1)
    for (i, j), h in zip(pairs, heights):
        out[i, j] = out[j, i] = h
    return out


@torch.no_grad()
def centroid_loss(model: nn.Module, members: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The loss on (x, y) of the worst of ``members`` (M, D) and of their centroid — the point a weight average
    of them returns — evaluated in one pass. Used in :ref:`ch-ensembles`."""
    loss = params.evaluate(model, torch.cat([members, members.mean(0, keepdim=True)]), x, y)[0]
    return loss[:-1].max().item(), loss[-1].item()
