"""K MLPs trained in one vmapped pass vs one after another (issue 3).

    python benchmarks/ensemble.py [--members 8] [--steps 300] [--threads 2] [--no-prototype] [--device cuda]
                                  [--repeats 2] [--json out.json]
    python benchmarks/ensemble.py --quick    # 4 members, 40 steps, one round, train.train only

The cpu-preset MLP (40-256-256-10) on MNIST-1D, batch 128, SGD with momentum 0.9, lr 0.05 cosine:
``wedges_lib.train.train`` on a (K, D) stack vs ``train.train`` on each (D,) theta with the same
seeds and steps. Prints wall and CPU seconds, the speed ratio, how far the members agree (max abs
difference; float reassociation makes it grow with steps but stay far below the weights' scale),
and the fraction of the machine's matmul peak (a large ``torch.matmul``) that each path reaches,
counting 3 × 2 × D × batch FLOPs per member and step (forward + backward).

It also times a prototype of the training step, written here to say what the library's loop could gain:
``bmm``: the same loop (``wedges_lib.optimize.minimize``, which train.train runs) with an MLP-specific
batched forward and hand-written backward (torch.baddbmm / bmm on (K, B, ·) activations, no vmap) in place
of autograd through the vmapped ``functional_call``.
On a machine shared with other jobs, read the CPU seconds at --threads 1: wall time is then unreliable.
On a GPU (``--device cuda``) every timing ends with ``torch.cuda.synchronize()`` and the peak is that of a
4096² float32 matmul; CPU seconds then mean little.
"""
from __future__ import annotations

import math
import os

import torch
from torch import nn

from common import Row, apply_threads, interleave, parser, timed, write_rows
from wedges_lib import config, data, optimize, params, train


def matmul_peak(n: int = 2048, repeat: int = 5, device: str = "cpu") -> tuple[float, float]:
    """FLOP per wall second and per CPU second of an n x n float32 matmul on ``device``, best of ``repeat``."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    wall = cpu = math.inf
    for _ in range(repeat):
        _, w, c = timed(lambda: a @ b)
        wall, cpu = min(wall, w), min(cpu, c)
    return 2 * n**3 / wall, 2 * n**3 / cpu


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


class _BmmLoss(torch.autograd.Function):
    """Per-member mean cross-entropy (K,) of an MLP stack whose backward is :func:`mlp_grad_bmm`'s gradient."""

    @staticmethod
    def forward(ctx, theta, slices, xb, yb):
        grads, loss = mlp_grad_bmm(slices, theta, xb, yb)
        ctx.save_for_backward(grads)
        return loss

    @staticmethod
    def backward(ctx, g):
        (grads,) = ctx.saved_tensors
        return g[:, None] * grads, None, None, None


def bmm_train(model, ds, theta0: torch.Tensor, seeds, *, lr: float = 0.05, momentum: float = 0.9,
              batch_size: int = 128, steps: int = 300) -> torch.Tensor:
    """train.train's loop (SGD + momentum, cosine) on a stack (K, D) with the bmm gradient; returns the final (K, D)."""
    slices, x, y = _linear_slices(model), ds.x_train, ds.y_train
    run = optimize.minimize(theta0, lambda th, idx: _BmmLoss.apply(th, slices, x[idx], y[idx]), n=len(y),
                            seeds=seeds, optimizer="sgd", lr=lr, momentum=momentum, schedule="cosine",
                            batch_size=batch_size, steps=steps, record_every=steps, record_start=False, quiet=True)
    return run.p


# ---------------------------------------------------------------- the benchmark

def main(argv=None) -> None:
    """Run the benchmark and print its table."""
    ap = parser(__doc__, quick="4 members, 40 steps, one round, no prototypes", repeats=(2, 1),
                devices=("cpu", "cuda"))
    ap.add_argument("--members", type=int, default=None, help="default 8, 4 with --quick")
    ap.add_argument("--steps", type=int, default=None, help="default 300, 40 with --quick")
    ap.add_argument("--no-prototype", action="store_true", help="time train.train only (implied by --quick)")
    args = ap.parse_args(argv)
    args.members = args.members or (4 if args.quick else 8)
    args.steps = args.steps or (40 if args.quick else 300)
    args.no_prototype = args.no_prototype or args.quick
    threads = apply_threads(args)
    cfg = config.resolve("cpu", device=args.device)
    ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
    K, seeds = args.members, list(range(args.members))
    model, theta0 = train.init(cfg, ds, seeds)
    D = theta0.shape[1]
    kw = dict(optimizer="sgd", lr=cfg.lr, momentum=cfg.momentum, schedule="cosine", batch_size=cfg.batch_size,
              steps=args.steps, record_every=args.steps, quiet=True)
    proto = dict(lr=cfg.lr, momentum=cfg.momentum, batch_size=cfg.batch_size, steps=args.steps)
    flops = 3 * 2 * D * cfg.batch_size * K * args.steps
    n_peak = 4096 if args.device == "cuda" else 2048
    peak, peak_cpu = matmul_peak(n_peak, device=args.device)
    print(f"K={K} MLP D={D} batch={cfg.batch_size} steps={args.steps} threads={threads} device={args.device}; "
          f"{n_peak}^2 matmul: "
          f"{peak / 1e9:.0f} GFLOP per wall s, {peak_cpu / 1e9:.0f} per CPU s "
          f"(1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    paths = {
        "train.train, one after another":
            lambda: torch.stack([train.train(model, ds, theta0[k], seeds=k, **kw).theta for k in range(K)]),
        "train.train, one vmapped pass": lambda: train.train(model, ds, theta0, seeds=seeds, **kw).theta,
    }
    if not args.no_prototype:
        paths["prototype 'bmm', one pass"] = lambda: bmm_train(model, ds, theta0, seeds, **proto)
        paths["prototype 'bmm', one after another"] = (
            lambda: torch.cat([bmm_train(model, ds, theta0[k:k + 1], [k], **proto) for k in range(K)]))
    train.train(model, ds, theta0, seeds=seeds, **dict(kw, steps=5))  # warm-up
    if not args.no_prototype:
        bmm_train(model, ds, theta0, seeds, **dict(proto, steps=5))
    timings = interleave(paths, args.repeats)  # rounds over the paths; the fastest of each path counts
    best = {name: (t.best("wall"), t.best("cpu"), t.result) for name, t in timings.items()}
    w_s, c_s, alone = best["train.train, one after another"]
    w_v, c_v, _ = best["train.train, one vmapped pass"]
    print(f"{'path':46s} {'wall s':>7s} {'cpu s':>7s} {'x seq':>6s} {'x(cpu)':>6s} "
          f"{'%peak':>6s} {'%peak(cpu)':>10s} {'max|Δθ| vs seq':>15s} {'wall spread':>11s}")
    for name, (w, c, th) in best.items():
        print(f"{name:46s} {w:7.2f} {c:7.2f} {w_s / w:6.2f} {c_s / c:6.2f} {100 * flops / w / peak:6.1f} "
              f"{100 * flops / c / peak_cpu:10.1f} {(th - alone).abs().max().item():15.2e} "
              f"{timings[name].spread():10.2f}s")
    print(f"(largest weight change during training: {(alone - theta0).abs().max().item():.2f}; train.train one pass "
          f"vs one after another: {w_s / w_v:.2f}x wall, {c_s / c_v:.2f}x CPU; goal >= 3x)")
    if args.json:
        rows = [Row(task=f"K={K} MLPs, {args.steps} steps: {name}", unit="s", wedges=w,
                    peer="train.train, one after another", peer_value=w_s,
                    goal="none (diagnostic)" if "one after another" in name else ">= 3",
                    agreement=((th - alone).abs().max() / (alone - theta0).abs().max()).item(),
                    agreement_is="max |Δθ| against one after another, over the largest weight change",
                    tolerance=0.05)  # float reassociation lets the paths drift apart by a few % over many steps
                for name, (w, c, th) in best.items() if name != "train.train, one after another"]
        write_rows(args.json, rows)


if __name__ == "__main__":
    main()
