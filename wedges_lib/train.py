"""One training loop for the whole book.

:func:`train` optimises a stack of K parameter vectors (K, D) in one ``vmap``-ed pass: member k
sees its own minibatch order (from ``seeds[k]``), so the members equal K separate runs. The
optimiser is ``torch.optim`` (SGD with momentum, or Adam) on the stacked tensor: both are
element-wise, so member k's update depends only on member k's gradient. L2 is coupled weight
decay (the gradient of ``l2/2 * ‖theta‖²``). A member whose loss becomes NaN / inf, or exceeds
``explode`` times its initial loss, is marked diverged and frozen; nothing raises.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, vmap
from tqdm.auto import tqdm

from . import models, params
from .config import Config, pick_device
from .data import Dataset
from .presets import OPTIMIZERS, SCHEDULES
from .validation import check_arg



@dataclass
class TrainResult:
    """What a run produced. Stacked runs have a leading member axis K; a single run has none.

    ``history`` maps 'step' (T,) and 'loss', 'acc', 'test_loss', 'test_acc', 'radius' (T,) or (T, K)
    — measured on the whole training / test set at the recorded steps. ``trajectory`` holds the
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


def _schedule(opt: torch.optim.Optimizer, name: str, steps: int):
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    if name == "step":  # divide by 10 at 50% and 75% of training
        return torch.optim.lr_scheduler.MultiStepLR(opt, [steps // 2, (3 * steps) // 4], 0.1)
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)




def train(model: nn.Module, data: Dataset, theta0: torch.Tensor, *, seeds: int | Sequence[int] = 0,
          optimizer: str = "sgd", lr: float = 0.1, momentum: float = 0.9, l2: float = 0.0,
          schedule: str = "constant", batch_size: int = 128, steps: int = 1000, record_every: int = 100,
          keep_trajectory: bool = False, explode: float = 1e3, quiet: bool = False) -> TrainResult:
    """Train theta0 (D,) or a stack (K, D) on ``data`` with ``model``'s architecture; see the module doc.

    ``seeds`` (an int for one run, K ints for a stack) fixes each member's minibatch order.
    """
    check_arg("optimizer", optimizer, optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}")
    check_arg("schedule", schedule, schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}")
    check_arg("lr", lr, lr > 0 and math.isfinite(lr), "a float > 0")
    check_arg("momentum", momentum, 0 <= momentum < 1, "a float in [0, 1)")
    check_arg("l2", l2, l2 >= 0, "a float >= 0")
    check_arg("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    check_arg("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1, "an int >= 1")
    check_arg("record_every", record_every, isinstance(record_every, int) and record_every >= 1, "an int >= 1")
    single = theta0.ndim == 1
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    K = 1 if single else theta0.shape[0]
    check_arg("seeds", seeds, len(seeds) == K, f"{K} seeds, one per member of theta0")

    device = theta0.device
    x, y, n = data.x_train.to(device), data.y_train.to(device), len(data.y_train)
    lay = params.layout(model)
    theta = torch.nn.Parameter(theta0.detach().clone().reshape(K, -1))
    opt = (torch.optim.SGD([theta], lr=lr, momentum=momentum, weight_decay=l2) if optimizer == "sgd"
           else torch.optim.Adam([theta], lr=lr, weight_decay=l2))
    sched = _schedule(opt, schedule, steps)

    def member_loss(th, xb, yb):
        return F.cross_entropy(functional_call(model, params.unflatten(th, lay), (xb,)), yb)

    step_fn = vmap(grad_and_value(member_loss))
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    bs = min(batch_size, n)
    order, pos = torch.empty(K, 0, dtype=torch.long), n  # each member's epoch permutation; epochs drop the tail

    def next_batch() -> torch.Tensor:
        nonlocal order, pos
        if pos + bs > n:
            order, pos = torch.stack([torch.randperm(n, generator=g) for g in gens]), 0
        pos += bs
        return order[:, pos - bs:pos]

    hist: dict[str, list] = {k: [] for k in ("step", "loss", "acc", "test_loss", "test_acc", "radius")}
    snaps: list[torch.Tensor] = []
    diverged = torch.zeros(K, dtype=torch.bool)
    diverged_step = torch.full((K,), -1)
    ref_loss = None

    def record(step: int) -> None:
        th = theta.detach()
        tr_l, tr_a = params.evaluate(model, th, x, y)
        te_l, te_a = params.evaluate(model, th, data.x_test.to(device), data.y_test.to(device))
        for key, v in zip(("loss", "acc", "test_loss", "test_acc", "radius"),
                          (tr_l, tr_a, te_l, te_a, params.radius(th))):
            hist[key].append(v.cpu())
        hist["step"].append(step)
        if keep_trajectory:
            snaps.append(th.clone().cpu())

    record(0)
    bar = tqdm(range(steps), disable=quiet, desc="train", leave=False, mininterval=1.0)
    for step in bar:
        idx = next_batch().to(device)
        grads, losses = step_fn(theta.detach(), x[idx], y[idx])
        if ref_loss is None:
            ref_loss = losses.detach().clamp_min(1e-3)
        bad = (~torch.isfinite(losses) | (losses.detach() > explode * ref_loss) | ~torch.isfinite(grads.sum(1))).cpu()
        newly = bad & ~diverged
        diverged_step[newly] = step
        diverged |= bad
        if diverged.all():
            break
        frozen = None
        if diverged.any():
            grads[diverged.to(device)] = 0.0
            frozen = theta.detach()[diverged.to(device)].clone()
        theta.grad = grads
        opt.step()
        sched.step()
        if frozen is not None:  # weight decay / momentum must not move a frozen member either
            with torch.no_grad():
                theta[diverged.to(device)] = frozen
        if (step + 1) % record_every == 0 or step + 1 == steps:
            record(step + 1)
            if not quiet:
                bar.set_postfix(loss=f"{hist['loss'][-1].nanmean():.3g}")
    if not hist["step"] or hist["step"][-1] != step + 1:
        record(step + 1)

    out = {k: torch.stack(v) if k != "step" else torch.tensor(v) for k, v in hist.items()}
    th = theta.detach()
    traj = torch.stack(snaps) if keep_trajectory else None
    if single:
        out = {k: (v[:, 0] if v.ndim == 2 else v) for k, v in out.items()}
        th, traj = th[0], (traj[:, 0] if traj is not None else None)
    settings = dict(optimizer=optimizer, lr=lr, momentum=momentum, l2=l2, schedule=schedule,
                    batch_size=batch_size, steps=steps, seeds=seeds)
    return TrainResult(model, theta0.detach().clone(), th, out,
                       diverged[0] if single else diverged, diverged_step[0] if single else diverged_step,
                       traj, settings)


TRAINING_PARAMS = ("dataset", "n_train", "model", "width", "optimizer", "lr", "momentum", "l2", "schedule",
                   "batch_size", "steps", "seed", "device")


def training_key(cfg: Config) -> dict:
    """The parameters that determine :func:`train_config`'s result: the cache key of trained solutions."""
    return {k: cfg[k] for k in TRAINING_PARAMS}


def init(cfg: Config, data: Dataset, seeds: int | Sequence[int]) -> tuple[nn.Module, torch.Tensor]:
    """The architecture ``cfg.model`` at width ``cfg.width`` and its initial theta: (D,) for an int seed, (K, D) for K."""
    device = pick_device(cfg.device)
    many = not isinstance(seeds, int)
    make = lambda s: models.make(cfg.model, data.input_shape, data.n_classes, width=cfg.width, seed=s)  # noqa: E731
    seed_list = list(seeds) if many else [seeds]
    model = make(seed_list[0]).to(device)
    theta0 = params.stack([params.flatten(make(s)) for s in seed_list]).to(device)
    return model, (theta0 if many else theta0[0])


def train_config(cfg: Config, data: Dataset, seeds: int | Sequence[int] | None = None, **overrides) -> TrainResult:
    """Initialise from ``seeds`` (default ``cfg.seed``) and train with the optimiser settings of ``cfg``."""
    seeds = cfg.seed if seeds is None else seeds
    model, theta0 = init(cfg, data, seeds)
    kw = dict(optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule,
              batch_size=cfg.batch_size, steps=cfg.steps, record_every=cfg.record_every)
    kw.update(overrides)
    return train(model, data, theta0, seeds=seeds, **kw)
