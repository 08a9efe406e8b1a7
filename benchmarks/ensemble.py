"""K MLPs trained in one vmapped pass vs one after another (issue 3).

    python benchmarks/ensemble.py [--members 8] [--steps 300] [--threads 2] [--no-prototype] [--device cuda]
                                  [--json out.json]

The cpu-preset MLP (40-256-256-10) on MNIST-1D, batch 128, SGD with momentum 0.9, lr 0.05 cosine:
``wedges_lib.train.train`` on a (K, D) stack vs ``train.train`` on each (D,) theta with the same
seeds and steps. Prints wall and CPU seconds, the speed ratio, how far the members agree (max abs
difference; float reassociation makes it grow with steps but stay far below the weights' scale),
and the fraction of the machine's matmul peak (a large ``torch.matmul``) that each path reaches,
counting 3 × 2 × D × batch FLOPs per member and step (forward + backward).

It also times two prototypes of the training step, written here to say what train.py should change:
``lean``: train.train's vmap(grad) step in a loop without its per-step overheads (one (K, n) index
tensor per epoch instead of K Python calls, the divergence check on the K losses only, no masked
writes while nothing has diverged); ``bmm``: the same loop with an MLP-specific batched forward and
hand-written backward (torch.baddbmm / bmm on (K, B, ·) activations, no autograd, no vmap).
On a machine shared with other jobs, read the CPU seconds at --threads 1: wall time is then unreliable.
On a GPU (``--device cuda``) every timing ends with ``torch.cuda.synchronize()`` and the peak is that of a
4096² float32 matmul; CPU seconds then mean little.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from wedges_lib import config, data, params, train
from wedges_lib.results import write_json


def matmul_peak(n: int = 2048, repeat: int = 5, device: str = "cpu") -> tuple[float, float]:
    """FLOP per wall second and per CPU second of an n x n float32 matmul on ``device``, best of ``repeat``."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    wall = cpu = math.inf
    for _ in range(repeat):
        _, w, c = timed(lambda: a @ b)
        wall, cpu = min(wall, w), min(cpu, c)
    return 2 * n**3 / wall, 2 * n**3 / cpu


def timed(fn):
    """(result, wall seconds, process CPU seconds) of fn(), GPU work included."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    sync()
    return out, time.perf_counter() - w, time.process_time() - c


# ---------------------------------------------------------------- prototypes of a faster train step

def _linear_slices(model: nn.Module) -> list[tuple[tuple[int, int, int], tuple[int, int]]]:
    """For an MLP (Flatten / Linear / ReLU): ((weight offset, out, in), (bias offset, out)) per Linear."""
    lay = params.layout(model)
    offsets = [0]
    for s in lay.sizes:
        offsets.append(offsets[-1] + s)
    shapes = dict(zip(lay.names, zip(offsets, lay.shapes)))
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            (ow, sw), (ob, _) = shapes[f"{name}.weight"], shapes[f"{name}.bias"]
            out.append(((ow, sw[0], sw[1]), (ob, sw[0])))
        elif not isinstance(m, (nn.Sequential, nn.Flatten, nn.ReLU)):
            raise ValueError(f"the bmm prototype handles Flatten / Linear / ReLU MLPs, not {type(m).__name__}")
    return out


def mlp_grad_bmm(slices, theta: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor):
    """Per-member gradient (K, D) and mean cross-entropy (K,) of an MLP stack theta (K, D) on xb (K, B, in)."""
    K, B = yb.shape
    Ws = [theta[:, o:o + n_out * n_in].view(K, n_out, n_in) for (o, n_out, n_in), _ in slices]
    bs = [theta[:, o:o + n_out] for _, (o, n_out) in slices]
    hs, acts = [xb.reshape(K, B, -1)], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        a = torch.baddbmm(b[:, None, :], hs[-1], W.transpose(1, 2))
        acts.append(a)
        if i < len(Ws) - 1:
            hs.append(torch.relu(a))
    logp = torch.log_softmax(acts[-1], -1)
    loss = -logp.gather(-1, yb[..., None]).mean((1, 2))
    g = logp.exp_()
    g.scatter_add_(-1, yb[..., None], torch.full((K, B, 1), -1.0, dtype=g.dtype, device=g.device))
    g /= B  # d(mean CE)/d logits
    grads = [None] * (2 * len(Ws))
    for i in range(len(Ws) - 1, -1, -1):
        grads[2 * i] = torch.bmm(g.transpose(1, 2), hs[i]).reshape(K, -1)
        grads[2 * i + 1] = g.sum(1)
        if i:
            g = torch.bmm(g, Ws[i]).mul_(acts[i - 1] > 0)
    order = sorted(range(len(grads)), key=lambda j: (slices[j // 2][0][0] if j % 2 == 0 else slices[j // 2][1][0]))
    return torch.cat([grads[j] for j in order], dim=1), loss


def lean_train(model, ds, theta0: torch.Tensor, seeds, *, step: str = "vmap", lr: float = 0.05,
               momentum: float = 0.9, batch_size: int = 128, steps: int = 300) -> torch.Tensor:
    """SGD + momentum + cosine schedule like train.train, on a stack (K, D); returns the final (K, D)."""
    x, y, n = ds.x_train, ds.y_train, len(ds.y_train)
    K = theta0.shape[0]
    theta = torch.nn.Parameter(theta0.detach().clone())
    opt = torch.optim.SGD([theta], lr=lr, momentum=momentum)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    lay = params.layout(model)
    if step == "vmap":
        def member_loss(th, xb, yb):
            return F.cross_entropy(functional_call(model, params.unflatten(th, lay), (xb,)), yb)
        vg = vmap(grad_and_value(member_loss))
        grad_fn = lambda th, xb, yb: vg(th, xb, yb)  # noqa: E731
    else:
        slices = _linear_slices(model)
        grad_fn = lambda th, xb, yb: mlp_grad_bmm(slices, th, xb, yb)  # noqa: E731
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    bs, orders = min(batch_size, n), None
    diverged = torch.zeros(K, dtype=torch.bool, device=theta.device)
    for s in range(steps):
        pos = (s * bs) % n  # the same minibatches as train.train (see the note in main)
        if s == 0 or pos + bs > n:
            orders, pos = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(x.device), 0
        idx = orders[:, pos:pos + bs]
        grads, losses = grad_fn(theta.detach(), x[idx], y[idx])
        bad = ~torch.isfinite(losses)
        if bad.any() or diverged.any():  # rare path: mask only when needed
            diverged |= bad
            grads[diverged] = 0.0
        theta.grad = grads
        opt.step()
        sched.step()
    return theta.detach()


# ---------------------------------------------------------------- the benchmark

def main(argv=None) -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeat", type=int, default=2, help="interleaved rounds; the fastest of each path counts")
    ap.add_argument("--no-prototype", action="store_true", help="time train.train only")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--json", default=None, help="also write the table's rows to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = config.resolve("cpu", device=args.device)
    ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
    K, seeds = args.members, list(range(args.members))
    model, theta0 = train.init(cfg, ds, seeds)
    D = theta0.shape[1]
    kw = dict(optimizer="sgd", lr=cfg.lr, momentum=cfg.momentum, schedule="cosine", batch_size=cfg.batch_size,
              steps=args.steps, record_every=args.steps, quiet=True)
    lean = dict(lr=cfg.lr, momentum=cfg.momentum, batch_size=cfg.batch_size, steps=args.steps)
    flops = 3 * 2 * D * cfg.batch_size * K * args.steps
    n_peak = 4096 if args.device == "cuda" else 2048
    peak, peak_cpu = matmul_peak(n_peak, device=args.device)
    print(f"K={K} MLP D={D} batch={cfg.batch_size} steps={args.steps} threads={args.threads} device={args.device}; "
          f"{n_peak}^2 matmul: "
          f"{peak / 1e9:.0f} GFLOP per wall s, {peak_cpu / 1e9:.0f} per CPU s "
          f"(1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    paths = {
        "train.train, one after another":
            lambda: torch.stack([train.train(model, ds, theta0[k], seeds=k, **kw).theta for k in range(K)]),
        "train.train, one vmapped pass": lambda: train.train(model, ds, theta0, seeds=seeds, **kw).theta,
    }
    if not args.no_prototype:
        for step, name in (("vmap", "lean"), ("bmm", "bmm")):
            paths[f"prototype '{name}', one pass"] = (
                lambda step=step: lean_train(model, ds, theta0, seeds, step=step, **lean))
            paths[f"prototype '{name}', one after another"] = (
                lambda step=step: torch.cat([lean_train(model, ds, theta0[k:k + 1], [k], step=step, **lean)
                                             for k in range(K)]))
    train.train(model, ds, theta0, seeds=seeds, **dict(kw, steps=5))  # warm-up
    lean_train(model, ds, theta0, seeds, step="bmm", **dict(lean, steps=5))
    best = {name: (math.inf, math.inf, None) for name in paths}
    for _ in range(args.repeat):
        for name, fn in paths.items():
            th, w, c = timed(fn)
            best[name] = (min(best[name][0], w), min(best[name][1], c), th)
    w_s, c_s, alone = best["train.train, one after another"]
    w_v, c_v, _ = best["train.train, one vmapped pass"]
    print(f"{'path':46s} {'wall s':>7s} {'cpu s':>7s} {'x seq':>6s} {'x(cpu)':>6s} "
          f"{'%peak':>6s} {'%peak(cpu)':>10s} {'max|Δθ| vs seq':>15s}")
    for name, (w, c, th) in best.items():
        print(f"{name:46s} {w:7.2f} {c:7.2f} {w_s / w:6.2f} {c_s / c:6.2f} {100 * flops / w / peak:6.1f} "
              f"{100 * flops / c / peak_cpu:10.1f} {(th - alone).abs().max().item():15.2e}")
    print(f"(largest weight change during training: {(alone - theta0).abs().max().item():.2f}; train.train one pass "
          f"vs one after another: {w_s / w_v:.2f}x wall, {c_s / c_v:.2f}x CPU; goal >= 3x)")
    if args.json:
        rows = [dict(task=f"K={K} MLPs, {args.steps} steps: {name}", unit="s", wedges=w,
                     peer="train.train, one after another", peer_value=w_s, ratio=w_s / w,
                     goal="none (diagnostic)" if "one after another" in name else ">= 3",
                     agreement=((th - alone).abs().max() / (alone - theta0).abs().max()).item(),
                     agreement_is="max |Δθ| against one after another, over the largest weight change",
                     tolerance=0.05)  # float reassociation lets the paths drift apart by a few % over many steps
                for name, (w, c, th) in best.items() if name != "train.train, one after another"]
        write_json(args.json, rows)
    # Note: train.train picks the minibatch at offset (step * batch) % n after rewinding to a new epoch,
    # so consecutive batches overlap at epoch boundaries; the prototypes copy that to stay comparable.


if __name__ == "__main__":
    main()
