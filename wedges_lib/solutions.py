"""Independently trained solutions: the raw material of the chapters on pairs (04) and sets (05) of solutions.

:func:`independent` trains k networks from the seeds ``seed, seed + 1, ...`` in one vmapped pass of
:func:`wedges_lib.train.train_config`, through the result cache (keyed on the knobs the training reads).
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from . import cache, train
from .data import Dataset


def _train(cfg: Mapping, data: Dataset, k: int) -> dict:
    run = train.train_config(cfg, data, seeds=[cfg.seed + i for i in range(k)], quiet=True)
    return {"theta0": run.theta0, "theta": run.theta, "diverged": bool(run.diverged.any()),
            "train_loss": run.history["loss"][-1], "test_acc": run.history["test_acc"][-1]}


def independent(cfg: Mapping, data: Dataset, k: int) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """k networks trained from seeds ``cfg.seed + i``: the architecture and {'theta0' (k, D), 'theta' (k, D),
    'diverged' (bool), 'train_loss' (k,), 'test_acc' (k,)}. Used in :ref:`ch-pairs` and :ref:`ch-sets`."""
    model, _ = train.init(cfg, data, cfg.seed)
    return model, cache.cached("solutions", cfg, _train, data=data, k=k)
