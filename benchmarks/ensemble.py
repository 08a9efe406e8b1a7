"""K MLPs trained in one vmapped pass vs one after another (issue 3).

    python benchmarks/ensemble.py [--members 8] [--steps 300] [--threads 2] [--prototype] [--device cuda]
                                  [--repeats 3] [--json out.json]
    python benchmarks/ensemble.py --quick    # 4 members, 40 steps, one round

The cpu-preset MLP (40-256-256-10) on MNIST-1D, batch 128, SGD with momentum 0.9, lr 0.05 cosine:
``wedges_lib.train.train`` on a (K, D) stack — by default on its bmm path (``params.stacked_loss``: the K
members' layers as ``torch.baddbmm``, autograd for the backward) — vs ``train.train`` on each (D,) theta with
the same seeds and steps, and vs the stack on the ``vmap`` path (``path="vmap"``, a diagnostic). Prints median
wall and CPU seconds over interleaved rounds, the speed ratio and its range over the rounds, how far the
members agree (max abs difference; float reassociation makes it grow with steps but stay far below the
weights' scale), and the fraction of the machine's matmul peak (``common.matmul_peak``) each path reaches,
counting 3 × 2 × D × batch FLOPs per member and step (forward + backward).

``--prototype`` also times the hand-written prototype that showed the way (``bmm_train``: the same loop with an
MLP-specific batched forward and hand-written backward).
On a machine shared with other jobs, read the CPU seconds at --threads 1: wall time is then unreliable.
On a GPU (``--device cuda``) every timing ends with ``torch.cuda.synchronize()`` and the peak is that of a
4096² float32 matmul; CPU seconds then mean little.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from common import Row, apply_threads, interleave, matmul_peak, parser, ratios, write_rows
from wedges_lib import config, data, optimize, params, train

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
    ap = parser(__doc__, quick="4 members, 40 steps, one round, no prototype", repeats=(3, 1),
                devices=("cpu", "cuda"))
    ap.add_argument("--members", type=int, default=None, help="default 8, 4 with --quick")
    ap.add_argument("--steps", type=int, default=None, help="default 300, 40 with --quick")
    ap.add_argument("--prototype", action="store_true", help="also time the hand-written bmm prototype")
    args = ap.parse_args(argv)
    args.members = args.members or (4 if args.quick else 8)
    args.steps = args.steps or (40 if args.quick else 300)
    threads = apply_threads(args)
    cfg = config.resolve("cpu", device=args.device)
    ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
    K, seeds = args.members, list(range(args.members))
    model, theta0 = train.init(cfg, ds, seeds)
    D = theta0.shape[1]
    kw = dict(optimizer="sgd", lr=cfg.lr, momentum=cfg.momentum, schedule="cosine", batch_size=cfg.batch_size,
              steps=args.steps, record_every=args.steps, quiet=True)
    proto = dict(lr=cfg.lr, momentum=cfg.momentum, batch_size=cfg.batch_size, steps=args.steps)
    flops = 3 * 2 * D * cfg.batch_size * K * args.steps  # forward + backward matrix products of all members
    peak = matmul_peak(args.device)
    print(f"K={K} MLP D={D} batch={cfg.batch_size} steps={args.steps} threads={threads} device={args.device}; "
          f"matmul peak {peak / 1e9:.0f} GFLOP/s (1-min load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    seq = "train.train, one after another"
    paths = {
        seq: lambda: torch.stack([train.train(model, ds, theta0[k], seeds=k, **kw).theta for k in range(K)]),
        "train.train, one pass (bmm path, the default)": lambda: train.train(model, ds, theta0, seeds=seeds,
                                                                             **kw).theta,
        "train.train, one pass, path='vmap'": lambda: train.train(model, ds, theta0, seeds=seeds, path="vmap",
                                                                  **kw).theta,
        "train.train, one after another, path='vmap' (the loop before the bmm path)":
            lambda: torch.stack([train.train(model, ds, theta0[k], seeds=k, path="vmap", **kw).theta
                                 for k in range(K)]),
    }
    if args.prototype:
        paths["prototype 'bmm' (hand-written backward), one pass"] = lambda: bmm_train(model, ds, theta0, seeds,
                                                                                       **proto)
    train.train(model, ds, theta0, seeds=seeds, **dict(kw, steps=5))  # warm-up
    train.train(model, ds, theta0, seeds=seeds, path="vmap", **dict(kw, steps=5))
    timings = interleave(paths, args.repeats)  # rounds over the paths; medians and per-round ratios count
    alone = timings[seq].result
    moved = (alone - theta0).abs().max().item()
    print(f"{'path':76s} {'wall s':>7s} {'cpu s':>7s} {'x seq':>6s} {'x range':>11s} {'%peak':>6s} "
          f"{'max|Δθ| vs seq':>15s}")
    rows = []
    for name, t in timings.items():
        r = ratios(timings[seq], t)
        frac = flops / t.median() / peak
        err = (t.result - alone).abs().max().item()
        print(f"{name:76s} {t.median():7.2f} {t.median('cpu'):7.2f} {r['peer_value'] / r['wedges']:6.2f} "
              f"{r['ratio_lo']:5.2f}-{r['ratio_hi']:<5.2f} {100 * frac:6.1f} {err:15.2e}")
        if name != seq:
            rows.append(Row(task=f"K={K} MLPs, {args.steps} steps: {name}", unit="s", peer=seq,
                            goal=">= 3" if "default" in name else "none (diagnostic)", agreement=err / moved,
                            agreement_is="max |Δθ| against one after another, over the largest weight change",
                            tolerance=0.05, peak_fraction=frac, **r))
    print(f"(largest weight change during training: {moved:.2f}; goal >= 3x for the default path)")
    if args.json:
        write_rows(args.json, rows)


if __name__ == "__main__":
    main()
