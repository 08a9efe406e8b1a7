"""The one optimisation loop of the library: minibatch order, optimiser, schedule, divergence, recording.

Every trained thing in the book is a *parametrisation* handed to :func:`minimize`: a trainable tensor
``p0`` of shape (K, ...) — K independent members along the first axis — and a function
``loss(p, idx) -> (K,)`` giving member k's loss at ``p[k]`` on its minibatch ``idx[k]``:

=============================  ==================  ==========================================================
caller                         p                   loss(p, idx)
=============================  ==================  ==========================================================
``train.train``                theta (K, D)        cross-entropy of theta[k] on x[idx[k]]
``subspace.subspace_train``    w (K, d)            the same at theta0 + s · P(w)
``connect.train_curve``        bend b (1, D)       mean loss at random points of the curve (a, b, c)
``sets.train_simplex`` ...     extras (1, m, D)    mean loss at random points of the structure
=============================  ==================  ==========================================================

:func:`minimize` owns everything else, written once:

* **Minibatch order.** With ``n`` examples, member k draws from its own generator, seeded with
  ``seeds[k]``: each epoch is one ``torch.randperm(n)`` read in order, ``batch_size`` at a time; the
  tail (n mod batch_size examples) is dropped. ``idx`` is (K, B) on ``p0``'s device; ``n=None`` (a
  loss with no data, e.g. the toy model) passes ``idx=None``. ``loss`` is called exactly once per
  step, so a caller may draw its own per-step randomness inside it (from :func:`side_generator`).
* **Optimiser and schedule.** ``torch.optim`` SGD with momentum or Adam on the whole (K, ...) tensor —
  both element-wise, so member k's update depends on member k's gradient alone; ``l2`` is coupled
  weight decay (the gradient of l2/2 ‖p‖²); the learning rate is constant, divided by 10 at 50% and
  75% of the steps (``step``), cosine-annealed to 0, or ``lr`` times ``schedule(step)`` for a function.
  ``lr`` may be K rates, one per member: each run of consecutive members with one rate is then its own
  parameter group (a slice of p), so member k is updated exactly as a run at rate ``lr[k]`` alone.
* **Divergence.** A member whose loss is NaN / inf, whose gradient is not finite, or (unless
  ``explode`` is None) whose loss exceeds ``explode`` times its first loss is marked diverged at that
  step and frozen from then on (no gradient, no momentum, no weight decay moves it); the loop stops
  when every member has diverged. Nothing raises.
* **Recording.** ``batch_loss`` (steps, K) is every step's minibatch loss (NaN for steps not run).
  ``history`` has a row at step 0 (unless ``record_start=False``), every ``record_every`` steps and
  at the end: 'step' (T,), 'batch_loss' (T, K) the mean minibatch loss since the previous row (NaN
  at step 0), and whatever ``measure(p) -> {name: (K,)}`` returns (e.g. full-data loss and accuracy).
  ``keep_trajectory`` keeps p at those rows. A text progress bar shows on a terminal unless ``quiet`` (none in a
  notebook: no widget in the book's pages).

Hooks for the special cases: ``penalty(p) -> (K,)`` is added to what is differentiated but not to the
recorded loss or the divergence test (e.g. a volume regulariser); ``grad_hook(g) -> g`` changes the
gradient before the step (e.g. projecting out a direction); ``post_step(p)`` changes p in place after
the step (e.g. an exact re-projection onto a constraint set).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from tqdm import tqdm

from .presets import OPTIMIZERS, SCHEDULES
from .validation import check_arg

Loss = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
SIDE_OFFSET = 0x9E3779B9  # < 2**32: torch's CPU generator keeps only a seed's low 32 bits


def side_generator(seed: int) -> torch.Generator:
    """A generator for a caller's own per-step draws (curve times, structure weights), seeded from ``seed``
    but on a stream apart from the minibatch order that :func:`minimize` draws from the same seed."""
    return torch.Generator().manual_seed((seed + SIDE_OFFSET) % 2**32)


@dataclass
class OptimizeResult:
    """What :func:`minimize` produced; K members along the first axis of every per-member tensor.

    ``p`` (K, ...) the final tensor; ``history`` 'step' (T,), 'batch_loss' (T, K) and the ``measure``
    keys (T, K); ``batch_loss`` (steps, K) per step; ``diverged`` (K,) bool and ``diverged_step`` (K,)
    (-1 where not); ``trajectory`` (T, K, ...) when kept.
    """

    p: torch.Tensor
    history: dict[str, torch.Tensor]
    batch_loss: torch.Tensor
    diverged: torch.Tensor
    diverged_step: torch.Tensor
    trajectory: torch.Tensor | None = None


def _schedule(opt: torch.optim.Optimizer, name, steps: int):
    if callable(name):  # step -> factor of lr (e.g. FGE's triangular cycle, :func:`wedges_lib.ensembles.triangular`)
        return torch.optim.lr_scheduler.LambdaLR(opt, name)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    if name == "step":  # divide by 10 at 50% and 75% of training
        return torch.optim.lr_scheduler.MultiStepLR(opt, [steps // 2, (3 * steps) // 4], 0.1)
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)


def minibatches(n: int, seeds: Sequence[int], batch_size: int, device=None) -> Iterator[torch.Tensor]:
    """Endless (K, B) minibatch indices, B = min(batch_size, n): member k reads one ``torch.randperm(n)``
    from its generator (seeded ``seeds[k]``) per epoch, in order, and drops the epoch's tail."""
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    bs = min(batch_size, n)
    while True:
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        for pos in range(0, n - bs + 1, bs):
            yield order[:, pos:pos + bs]


def _rate_groups(p: torch.nn.Parameter, rates: list[float]) -> list[tuple[slice, torch.nn.Parameter, float]]:
    """(rows, tensor, rate) per run of consecutive members of p (K, ...) with one rate: p itself when all
    share one, else slices of p made leaves that share its storage (the optimiser's steps on them move p)."""
    bounds = [0] + [k for k in range(1, len(rates)) if rates[k] != rates[k - 1]] + [len(rates)]
    if len(bounds) == 2:
        return [(slice(None), p, rates[0])]
    return [(slice(a, b), torch.nn.Parameter(p.data[a:b]), rates[a]) for a, b in zip(bounds, bounds[1:])]


def minimize(p0: torch.Tensor, loss: Loss, *, n: int | None = None, seeds: Sequence[int] = (0,),
             optimizer: str = "sgd", lr: float | Sequence[float] = 0.1, momentum: float = 0.9, l2: float = 0.0,
             schedule: str = "constant", batch_size: int = 128, steps: int = 1000, explode: float | None = 1e3,
             record_every: int = 100, record_start: bool = True,
             measure: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
             keep_trajectory: bool = False, penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
             grad_hook: Callable[[torch.Tensor], torch.Tensor] | None = None,
             post_step: Callable[[torch.Tensor], None] | None = None,
             quiet: bool = False, desc: str = "optimize") -> OptimizeResult:
    """Minimise ``loss(p, idx) -> (K,)`` over the K members of p0 (K, ...) independently; see the module doc.

    ``n`` is the number of examples minibatches are drawn from (None: no data, ``idx`` is None);
    ``seeds`` one per member fixes its minibatch order; ``lr`` one rate, or K (one per member).
    """
    check_arg("optimizer", optimizer, optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}")
    check_arg("schedule", schedule, callable(schedule) or schedule in SCHEDULES,
              f"one of {', '.join(SCHEDULES)} or a function step -> factor of lr")
    check_arg("momentum", momentum, 0 <= momentum < 1, "a float in [0, 1)")
    check_arg("l2", l2, l2 >= 0, "a float >= 0")
    check_arg("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    check_arg("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1, "an int >= 1")
    check_arg("record_every", record_every, isinstance(record_every, int) and record_every >= 1, "an int >= 1")
    check_arg("explode", explode, explode is None or explode > 0, "None or a float > 0")
    check_arg("p0", tuple(p0.shape), p0.ndim >= 1 and p0.shape[0] >= 1, "a tensor (K, ...) with K >= 1 members")
    K, device = p0.shape[0], p0.device
    check_arg("seeds", list(seeds), n is None or len(seeds) == K, f"{K} seeds, one per member")
    check_arg("n", n, n is None or (isinstance(n, int) and n >= 1), "None or an int >= 1")
    rates = [float(v) for v in lr] if isinstance(lr, Sequence) else [float(lr)] * K
    check_arg("lr", lr, len(rates) == K and all(v > 0 and math.isfinite(v) for v in rates),
              f"a float > 0, or {K} of them (one per member)")

    p = torch.nn.Parameter(p0.detach().clone())
    groups = _rate_groups(p, rates)
    param_groups = [{"params": [q], "lr": rate} for _, q, rate in groups]
    opt = (torch.optim.SGD(param_groups, lr=rates[0], momentum=momentum, weight_decay=l2) if optimizer == "sgd"
           else torch.optim.Adam(param_groups, lr=rates[0], weight_decay=l2))
    sched = _schedule(opt, schedule, steps)
    batches = minibatches(n, seeds, batch_size, device) if n is not None else None

    hist: dict[str, list] = {"step": [], "batch_loss": []}
    snaps: list[torch.Tensor] = []
    batch_loss = torch.full((steps, K), float("nan"), device=device)
    diverged = torch.zeros(K, dtype=torch.bool)
    diverged_step = torch.full((K,), -1)
    ref = None
    last = 0  # the step of the previous history row

    def record(step: int) -> None:
        nonlocal last
        pd = p.detach()
        hist["step"].append(step)
        since = batch_loss[last:step]
        hist["batch_loss"].append((since.mean(0) if step > last else torch.full((K,), float("nan"))).cpu())
        for key, v in (measure(pd) if measure is not None else {}).items():
            hist.setdefault(key, []).append(v.detach().cpu())
        if keep_trajectory:
            snaps.append(pd.clone().cpu())
        last = step

    if record_start:
        record(0)
    bar = tqdm(range(steps), disable=quiet or None, desc=desc, leave=False, mininterval=1.0)
    for step in bar:
        idx = next(batches) if batches is not None else None
        losses = loss(p, idx)
        check_arg("loss", f"shape {tuple(losses.shape)}", losses.shape == (K,), f"shape ({K},), one loss per member")
        objective = losses.sum() if penalty is None else losses.sum() + penalty(p).sum()
        (grads,) = torch.autograd.grad(objective, p)
        if grad_hook is not None:
            grads = grad_hook(grads)
        losses = losses.detach()
        batch_loss[step] = losses
        if ref is None:
            ref = losses.clamp_min(1e-3)
        bad = ~torch.isfinite(losses) | ~torch.isfinite(grads.flatten(1).sum(1))
        if explode is not None:
            bad |= losses > explode * ref
        bad = bad.cpu()
        diverged_step[bad & ~diverged] = step
        diverged |= bad
        if diverged.all():
            break
        frozen = None
        if diverged.any():
            dv = diverged.to(device)
            grads[dv] = 0.0
            frozen = p.detach()[dv].clone()
        for rows, q, _ in groups:
            q.grad = grads[rows]
        opt.step()
        sched.step()
        with torch.no_grad():
            if post_step is not None:
                post_step(p)
            if frozen is not None:  # weight decay / momentum must not move a frozen member either
                p[dv] = frozen
        if (step + 1) % record_every == 0 or step + 1 == steps:
            record(step + 1)
            if not quiet:
                shown = hist["loss"][-1] if "loss" in hist else hist["batch_loss"][-1]
                bar.set_postfix(loss=f"{shown.nanmean():.3g}")
    if not hist["step"] or hist["step"][-1] != step + 1:
        record(step + 1)

    history = {k: torch.tensor(v) if k == "step" else torch.stack(v) for k, v in hist.items()}
    return OptimizeResult(p.detach(), history, batch_loss.cpu(), diverged, diverged_step,
                          torch.stack(snaps) if keep_trajectory else None)
