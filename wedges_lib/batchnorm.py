"""The BatchNorm policy: what a network with running statistics computes at an evaluated parameter point.

A network with BatchNorm is not a function of its parameter vector alone: its running means and variances
were estimated for the weights it was trained with, and are wrong for an interpolated, averaged or perturbed
point (Garipov et al. 2018; Izmailov et al. 2018). Wherever Wedges evaluates such a network it takes one
policy, the parameter ``bn``:

* ``"recompute"`` (the default): the statistics are re-estimated at every evaluated point on a set of
  training batches, then the network is evaluated in eval mode with them — what
  ``torch.optim.swa_utils.update_bn`` does for one model (every batch weighted equally, the running variance
  unbiased), here vmapped over many points at once;
* ``"eval"``: the stored running statistics, whatever the point;
* ``"train"``: the statistics of each evaluated batch (train-mode BatchNorm; nothing is stored).

Only BatchNorm modules change mode: everything else (dropout) is evaluated in eval mode, so an evaluated
point is deterministic. A model without running statistics needs no policy. This module holds the policy's
checks and the two functional views of a model (built with ``torch.func``); :class:`wedges_lib.landscape.Landscape`
evaluates through them. It imports nothing from ``wedges_lib`` but validation, so any module can call
:func:`check_policy`.
"""
from __future__ import annotations

import copy
from typing import Callable

from torch import Tensor, nn
from torch.func import replace_all_batch_norm_modules_

from .validation import check_arg

POLICIES = ("recompute", "eval", "train")
VALID = ("one of 'recompute' (re-estimate the running statistics at each point on training batches), "
         "'eval' (the stored statistics) or 'train' (each batch's own statistics)")


def bn_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The BatchNorm modules of ``model`` that keep running statistics, by name.

    >>> list(bn_modules(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.GroupNorm(2, 4))))
    ['1']
    """
    return {n: m for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
            and m.running_mean is not None}


def check_policy(model: nn.Module, bn: str | None) -> str | None:
    """``bn`` checked against ``model``: one of ``POLICIES``; None is allowed only for a model without
    running statistics. Every evaluator of parameter points calls this first.

    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> check_policy(net, "eval")
    'eval'
    >>> check_policy(net, None)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'bn': got None; the model has BatchNorm running statistics (1), so every ... 'eval' ...

    Used in :ref:`ch-your-model`.
    """
    if bn is not None:
        check_arg("bn", bn, bn in POLICIES, VALID)
        return bn
    names = list(bn_modules(model))
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise ValueError(f"parameter 'bn': got None; the model has BatchNorm running statistics ({shown}), so "
                         f"every evaluated point needs a policy: {VALID}; evaluate it through "
                         f"wedges_lib.landscape.Landscape(model, batches, bn=...)")
    return None


def train_view(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose BatchNorm layers use each batch's statistics and store nothing (so it is a pure
    function of parameters and batch, vmappable); every other module is in eval mode."""
    view = copy.deepcopy(model).eval()
    for m in bn_modules(view).values():
        m.train()
    replace_all_batch_norm_modules_(view)
    return view


def eval_view(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode: BatchNorm normalises with the running statistics it is given."""
    return copy.deepcopy(model).eval()


class StatisticsRecorder:
    """Records, during a forward pass of a :func:`train_view`, the batch mean and unbiased variance of the input
    of every BatchNorm layer (per channel, dim 1) — the quantities train-mode BatchNorm folds into its running
    statistics. Works under ``vmap``: call :meth:`run` inside the vmapped function and return its result."""

    def __init__(self, view: nn.Module, names: list[str]):
        modules = dict(view.named_modules())
        self._store: dict[str, Tensor] | None = None
        for n in names:
            modules[n].register_forward_pre_hook(self._hook(n))

    def _hook(self, name: str):
        def hook(module, args):
            if self._store is not None:
                x = args[0]
                dims = [0] + list(range(2, x.ndim))
                self._store[f"{name}.running_mean"] = x.mean(dims)
                self._store[f"{name}.running_var"] = x.var(dims, correction=1)
        return hook

    def run(self, forward: Callable[[], object]) -> dict[str, Tensor]:
        """Run ``forward()`` and return the statistics recorded, by buffer name."""
        self._store = {}
        try:
            forward()
            return self._store
        finally:
            self._store = None


def average(per_batch: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The equal-weight mean over batches of recorded statistics — ``update_bn``'s cumulative moving average
    (momentum None)."""
    check_arg("per_batch", len(per_batch), len(per_batch) >= 1, "statistics of at least one batch")
    return {k: sum(s[k] for s in per_batch) / len(per_batch) for k in per_batch[0]}
