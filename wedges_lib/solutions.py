"""Independently trained solutions: the raw material of the chapters on pairs (04) and sets (05) of solutions.

:func:`independent` trains k networks from the seeds ``solution_seed, solution_seed + 1, ...`` in one vmapped
pass of :func:`wedges_lib.train.train_config`, through the result cache (keyed on the knobs the training reads).
A member that diverges is frozen where it diverged (see :mod:`wedges_lib.optimize`) and flagged, never dropped,
so a chapter can count it and leave its statistics unmeasured.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from . import cache, train
from .data import Dataset


def _train(cfg: Mapping, data: Dataset, k: int) -> dict:
    run = train.train_config(cfg, data, seeds=[cfg.solution_seed + i for i in range(k)], quiet=True)
    return {"theta0": run.theta0, "theta": run.theta, "diverged": run.diverged.reshape(k).clone(),
            "train_loss": run.history["loss"][-1], "test_acc": run.history["test_acc"][-1]}


def independent(cfg: Mapping, data: Dataset, k: int) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """k networks trained from seeds ``cfg.solution_seed + i``: the architecture and {'theta0' (k, D),
    'theta' (k, D), 'diverged' (k,) bool, 'train_loss' (k,), 'test_acc' (k,)}.

    Used in :ref:`ch-pairs` and :ref:`ch-sets`.
    """
    model, _ = train.init(cfg, data, cfg.solution_seed)
    return model, cache.cached("solutions", cfg, _train, data=data, k=k)
