"""Your model, your data, your loss and a BatchNorm policy, as the functions Wedges' engines take.

A :class:`Landscape` wraps any ``nn.Module`` (with or without BatchNorm), a list of batches in any format
(tensors, tuples, dicts: :mod:`wedges_lib.objectives`), an objective (cross-entropy by default) and the
BatchNorm policy ``bn`` (:mod:`wedges_lib.batchnorm`). It is itself a batched loss ``thetas (K, D) -> (K,)``,
the target :mod:`wedges_lib.surfaces` and :func:`wedges_lib.connect.profile` take, and it gives

* :meth:`Landscape.loss_fn` — the ``loss_fn(theta)`` of the curvature functions (the BatchNorm statistics
  fixed at the point under ``recompute`` / ``eval``, batch statistics under ``train``);
* :meth:`Landscape.statistics` — the recomputed running statistics at K points, vmapped;
* :meth:`Landscape.load` — a plain PyTorch model with theta and its statistics (SWA's ``update_bn`` step);
* :meth:`Landscape.minibatch_loss` — train-mode loss on one batch, for fitting curves or training.

>>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
>>> x, y = torch.randn(16, 3, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 2
>>> land = Landscape(net, objectives.split(x, y, size=8))
>>> theta = params.flatten(net)
>>> land(torch.stack([theta, 2 * theta])).shape
torch.Size([2])
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from . import batchnorm, objectives, params  # noqa: F401  (objectives: the module doc's example)
from .hessian import DatasetLoss
from .objectives import Batch, Objective, as_objective, batch_size, check_batches
from .validation import check_arg


class Landscape:
    """The loss of ``model`` on ``batches`` under ``objective`` as a function of theta, with BatchNorm policy ``bn``.

    ``batches`` is a list of batches the loss averages over (weighted by their sizes); ``bn_batches`` (default:
    ``batches``) are the training batches the ``recompute`` policy re-estimates statistics on; ``chunk``
    parameter points are vmapped at a time (default :func:`wedges_lib.params.default_sizes`).

    Used in :ref:`ch-your-model`.
    """

    def __init__(self, model: nn.Module, batches: Sequence[Batch], *, objective: Objective | Callable | None = None,
                 bn: str | None = "recompute", bn_batches: Sequence[Batch] | None = None, chunk: int | None = None):
        self.model, self.lay = model, params.layout(model)
        self.objective = as_objective(objective)
        self.batches = check_batches(batches)
        self.bn_names = list(batchnorm.bn_modules(model))
        self.bn = batchnorm.check_policy(model, bn)
        self.bn_batches = check_batches(self.batches if bn_batches is None else bn_batches, "bn_batches")
        self.weights = [batch_size(b) / sum(map(batch_size, self.batches)) for b in self.batches]
        check_arg("chunk", chunk, chunk is None or (isinstance(chunk, int) and chunk >= 1), "None or an int >= 1")
        self.chunk = chunk
        self._train, self._eval = batchnorm.train_view(model), batchnorm.eval_view(model)
        self._recorder = batchnorm.StatisticsRecorder(self._train, self.bn_names)

    @property
    def recomputes(self) -> bool:
        """True when each evaluated point gets its own statistics (a BatchNorm model under ``recompute``)."""
        return bool(self.bn_names) and self.bn == "recompute"

    def _call(self, view: nn.Module, theta: Tensor, batch: Batch, buffers: dict | None = None) -> Any:
        named = params.unflatten(theta, self.lay)
        if buffers:
            named = {**named, **buffers}
        args, kwargs = self.objective.inputs(batch)
        return functional_call(view, named, args, kwargs)

    def output(self, theta: Tensor, batch: Batch, stats: dict | None = None) -> Any:
        """The model's output at theta (D,) on ``batch`` under the policy; ``stats`` are the running statistics
        to use under ``recompute`` (from :meth:`statistics`) or, given under ``eval``, instead of the stored."""
        if self.bn_names and self.bn == "train":
            return self._call(self._train, theta, batch)
        if self.recomputes:
            check_arg("stats", None, stats is not None, "the statistics at theta (Landscape.statistics) under "
                      "bn='recompute'")
        return self._call(self._eval, theta, batch, stats)

    def loss_on_batch(self, theta: Tensor, batch: Batch, stats: dict | None = None) -> Tensor:
        """Mean loss () at theta (D,) on one batch under the policy (``stats`` as in :meth:`output`)."""
        return self.objective.loss(self.output(theta, batch, stats), batch)

    def minibatch_loss(self, theta: Tensor, batch: Batch) -> Tensor:
        """Mean loss () at theta (D,) on one batch with train-mode BatchNorm (batch statistics, nothing stored):
        the loss to train on or to fit a curve with (Garipov et al. fit curves in train mode)."""
        return self.objective.loss(self._call(self._train, theta, batch), batch)

    def xy_loss(self) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """:meth:`minibatch_loss` as ``loss_on_batch(theta, xb, yb)``, the form curve fitting
        (:func:`wedges_lib.connect.train_curve` with a Dataset) takes.

        Used in :ref:`ch-your-model`.
        """
        return lambda theta, xb, yb: self.minibatch_loss(theta, (xb, yb))

    def _chunks(self, thetas: Tensor) -> tuple[Tensor, ...]:
        return thetas.split(self.chunk or params.default_sizes(thetas.device)[0])

    def statistics(self, thetas: Tensor) -> dict[str, Tensor]:
        """Running statistics re-estimated at theta (D,) -> {buffer: (C,)}, or at each of K points (K, D) ->
        {buffer: (K, C)}: the equal-weight mean over ``bn_batches`` of each BatchNorm input's batch mean and
        unbiased variance, in one train-mode pass per batch vmapped over the points (``update_bn``'s result)."""
        if not self.bn_names:
            return {}
        single = thetas.ndim == 1
        thetas = thetas[None] if single else thetas

        def one(theta: Tensor, batch: Batch) -> dict[str, Tensor]:
            return self._recorder.run(lambda: self._call(self._train, theta, batch))

        out: list[dict[str, Tensor]] = []
        with torch.no_grad():
            for th in self._chunks(thetas.detach()):
                per = [vmap(one, in_dims=(0, None))(th, b) for b in self.bn_batches]
                out.append(batchnorm.average(per))
        stats = {k: torch.cat([o[k] for o in out]) for k in out[0]}
        return {k: v[0] for k, v in stats.items()} if single else stats

    def __call__(self, thetas: Tensor) -> Tensor:
        """The mean loss over ``batches`` at each of K points, thetas (K, D) -> (K,) (or (D,) -> ()), vmapped
        ``chunk`` points at a time, statistics per the policy."""
        single = thetas.ndim == 1
        thetas = thetas[None] if single else thetas
        parts = []
        with torch.no_grad():
            for th in self._chunks(thetas):
                stats = self.statistics(th) if self.recomputes else None
                dims = (0, None, 0 if stats else None)
                per_point = vmap(self.loss_on_batch, in_dims=dims)
                parts.append(sum(w * per_point(th, b, stats) for w, b in zip(self.weights, self.batches)))
        losses = torch.cat(parts)
        return losses[0] if single else losses

    def fixed_statistics(self, theta: Tensor) -> dict | None:
        """The statistics the curvature at theta holds fixed: recomputed at theta (``recompute``), else None."""
        return self.statistics(theta) if self.recomputes else None

    def loss_fn(self, theta: Tensor) -> Callable[[Tensor], Tensor]:
        """``loss_fn(t)`` for the curvature functions at theta (D,): the mean loss over ``batches``, with the
        BatchNorm statistics recomputed at theta and then held fixed (``recompute``), the stored ones (``eval``)
        or each batch's own (``train``). Several batches give a :class:`~wedges_lib.hessian.DatasetLoss`, which the
        curvature functions differentiate one batch at a time.

        Used in :ref:`ch-your-model`.
        """
        stats = self.fixed_statistics(theta)
        if len(self.batches) == 1:
            return lambda t: self.loss_on_batch(t, self.batches[0], stats)
        return DatasetLoss(lambda t, b: self.loss_on_batch(t, b, stats), tuple(self.batches), tuple(self.weights))

    def state_dict(self, theta: Tensor) -> dict[str, Tensor]:
        """A ``state_dict`` for ``model`` holding theta (D,) and the running statistics under the policy
        (recomputed at theta, or the stored ones)."""
        sd = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        sd.update({k: v.detach().clone() for k, v in params.unflatten(theta, self.lay).items()})
        if self.recomputes:
            sd.update(self.statistics(theta))
        return sd

    def load(self, theta: Tensor) -> nn.Module:
        """A plain PyTorch copy of ``model`` in eval mode with theta (D,) and :meth:`state_dict`'s statistics —
        for an averaged theta (SWA) the model ``torch.optim.swa_utils.update_bn`` would give.

        Used in :ref:`ch-your-model`.
        """
        m = copy.deepcopy(self.model)
        m.load_state_dict(self.state_dict(theta))
        return m.eval()
