"""Training networks in their full parameter space: the book's solutions and ensembles.

:func:`train` optimises a stack of K parameter vectors (K, D) in one ``vmap``-ed pass: member k
sees its own minibatch order (from ``seeds[k]``), so the members equal K separate runs. The loop
itself is :func:`wedges_lib.optimize.minimize` (the parametrisation is theta itself): the
optimiser is ``torch.optim`` (SGD with momentum, or Adam) on the stacked tensor: both are
element-wise, so member k's update depends only on member k's gradient. L2 is coupled weight
decay (the gradient of ``l2/2 * ‖theta‖²``). A member whose loss becomes NaN / inf, or exceeds
``explode`` times its initial loss, is marked diverged and frozen; nothing raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from . import models, optimize, params
from .config import Config, pick_device
from .data import Dataset
from .validation import check_arg


@dataclass
class TrainResult:
    """What a run produced. Stacked runs have a leading member axis K; a single run has none.

    ``history`` maps 'step' (T,) and 'loss', 'acc', 'test_loss', 'test_acc', 'radius' (T,) or (T, K)
    — measured on the whole training / test set at the recorded steps ('step' alone when not measured).
    ``trajectory`` holds the
    parameter vectors at those steps, (T, D) or (T, K, D), when asked for.
    """

    model: nn.Module
    theta0: torch.Tensor
    theta: torch.Tensor
    history: dict[str, torch.Tensor]
    diverged: torch.Tensor
    diverged_step: torch.Tensor
    trajectory: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)

    @property
    def any_diverged(self) -> bool:
        """True when at least one member diverged."""
        return bool(self.diverged.any())


def train(model: nn.Module, data: Dataset, theta0: torch.Tensor, *, seeds: int | Sequence[int] = 0,
          optimizer: str = "sgd", lr: float | Sequence[float] = 0.1, momentum: float = 0.9, l2: float = 0.0,
          schedule: str = "constant", batch_size: int = 128, steps: int = 1000, record_every: int = 100,
          keep_trajectory: bool = False, explode: float = 1e3, quiet: bool = False,
          path: str = "auto", measured: bool = True) -> TrainResult:
    """Train theta0 (D,) or a stack (K, D) on ``data`` with ``model``'s architecture; see the module doc.

    ``seeds`` (an int for one run, K ints for a stack) fixes each member's minibatch order; ``lr`` is one rate or,
    for a stack, K (member k trains as a run at ``lr[k]``, :func:`wedges_lib.optimize.minimize`). ``path``: how the
    members' losses are batched (:func:`wedges_lib.params.stacked_loss`): ``"auto"`` takes batched matrix
    products for networks of Linear layers and element-wise activations, ``vmap`` otherwise. ``measured=False``
    skips the whole-set evaluations at the recorded steps, for a caller that keeps only the trajectory.
    """
    single = theta0.ndim == 1
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    K = 1 if single else theta0.shape[0]
    check_arg("seeds", seeds, len(seeds) == K, f"{K} seeds, one per member of theta0")
    device = theta0.device
    x, y = data.x_train.to(device), data.y_train.to(device)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    member_loss = params.stacked_loss(model, path)

    def measure(th: torch.Tensor) -> dict[str, torch.Tensor]:
        (tr_l, tr_a) = params.evaluate(model, th, x, y, path=path)
        (te_l, te_a) = params.evaluate(model, th, x_test, y_test, path=path)
        return dict(loss=tr_l, acc=tr_a, test_loss=te_l, test_acc=te_a, radius=params.radius(th))

    run = optimize.minimize(theta0.detach().reshape(K, -1), lambda th, idx: member_loss(th, x[idx], y[idx]),
                            n=len(y), seeds=seeds, optimizer=optimizer, lr=lr, momentum=momentum, l2=l2,
                            schedule=schedule, batch_size=batch_size, steps=steps, explode=explode,
                            record_every=record_every, measure=measure if measured else None,
                            keep_trajectory=keep_trajectory, quiet=quiet, desc="train")
    out = {k: v for k, v in run.history.items() if k != "batch_loss"}
    th, traj, diverged, diverged_step = run.p, run.trajectory, run.diverged, run.diverged_step
    if single:
        out = {k: (v[:, 0] if v.ndim == 2 else v) for k, v in out.items()}
        th, traj = th[0], (traj[:, 0] if traj is not None else None)
        diverged, diverged_step = diverged[0], diverged_step[0]
    settings = dict(optimizer=optimizer, lr=lr, momentum=momentum, l2=l2, schedule=schedule,
                    batch_size=batch_size, steps=steps, seeds=seeds)
    return TrainResult(model, theta0.detach().clone(), th, out, diverged, diverged_step, traj, settings)


def init(cfg: Config, data: Dataset, seeds: int | Sequence[int]) -> tuple[nn.Module, torch.Tensor]:
    """The architecture ``cfg.model`` at width ``cfg.width`` and its initial theta: (D,) for an int seed, (K, D)
    for K."""
    device = pick_device(cfg.device)
    many = not isinstance(seeds, int)
    make = lambda s: models.make(cfg.model, data.input_shape, data.n_classes, width=cfg.width, seed=s)  # noqa: E731
    seed_list = list(seeds) if many else [seeds]
    model = make(seed_list[0]).to(device)
    theta0 = params.stack([params.flatten(make(s)) for s in seed_list]).to(device)
    return model, (theta0 if many else theta0[0])


def train_config(cfg: Config, data: Dataset, seeds: int | Sequence[int] | None = None, **overrides) -> TrainResult:
    """Initialise from ``seeds`` (default ``cfg.seed``) and train with the optimiser settings of ``cfg``.

    Used in :ref:`ch-quickstart`.
    """
    seeds = cfg.seed if seeds is None else seeds
    model, theta0 = init(cfg, data, seeds)
    kw = dict(optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule,
              batch_size=cfg.batch_size, steps=cfg.steps, record_every=cfg.record_every)
    kw.update(overrides)
    return train(model, data, theta0, seeds=seeds, **kw)
