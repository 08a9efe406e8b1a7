"""Chapter 92's study: a model the library did not build (a torchvision ResNet-18 with BatchNorm) on CIFAR-shaped
data, trained and analysed through :class:`wedges_lib.landscape.Landscape`.

At the smoke and cpu scales the data are random images shaped like CIFAR-10 (3 x 32 x 32, 10 classes): each
class a smooth random prototype image, each example its prototype plus noise, so a short run learns something;
the paper scale reads CIFAR-10 itself (:func:`wedges_lib.data.load`).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap
from torch.optim.swa_utils import update_bn

from .. import connect, optimize, params
from ..data import Dataset, load
from ..landscape import Landscape
from ..presets import SPECS
from ..validation import check_arg

DATA = SPECS["own_data"].choices  # the registry's choices: random images, CIFAR-10


def random_images(n_train: int, n_test: int, *, n_classes: int = 10, noise: float = 1.0, seed: int = 0) -> Dataset:
    """CIFAR-shaped random data: x (N, 3, 32, 32) = the class's smooth prototype + Gaussian noise, standardised.

    >>> d = random_images(8, 4)
    >>> tuple(d.x_train.shape), tuple(d.y_test.shape), d.n_classes
    ((8, 3, 32, 32), (4,), 10)
    """
    check_arg("n_train", n_train, isinstance(n_train, int) and n_train >= 1, "an int >= 1")
    g = torch.Generator().manual_seed(seed)
    protos = F.interpolate(torch.randn(n_classes, 3, 4, 4, generator=g), size=(32, 32), mode="bilinear",
                           align_corners=False)
    protos = protos / protos.std()

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, n_classes, (n,), generator=g)
        return protos[y] + noise * torch.randn(n, 3, 32, 32, generator=g), y

    (xtr, ytr), (xte, yte) = draw(n_train), draw(n_test)
    scale = xtr.std()
    return Dataset("random_images", xtr / scale, ytr, xte / scale, yte, n_classes)


def load_data(name: str, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """The chapter's data: :func:`random_images` ('random') or CIFAR-10's first n_train / n_test examples.

    Used in :ref:`ch-your-model`.
    """
    check_arg("own_data", name, name in DATA, f"one of {', '.join(DATA)}")
    if name == "random":
        return random_images(n_train, n_test, seed=seed)
    d = load("cifar10", n_train)
    return Dataset(d.name, d.x_train, d.y_train, d.x_test[:n_test], d.y_test[:n_test], d.n_classes)


def resnet18(n_classes: int, seed: int) -> nn.Module:
    """torchvision's ResNet-18 (BatchNorm; random init from ``seed``, no weights downloaded).

    Used in :ref:`ch-your-model`.
    """
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torchvision.models.resnet18(weights=None, num_classes=n_classes)


def init(n_classes: int, seeds: Sequence[int], device=None) -> tuple[nn.Module, torch.Tensor]:
    """The architecture (:func:`resnet18`) and the initial thetas (K, D), one per seed, on ``device``.

    Used in :ref:`ch-your-model`.
    """
    nets = [resnet18(n_classes, s).to(device) for s in seeds]
    return nets[0], params.stack([params.flatten(m) for m in nets])


def train_runs(land: Landscape, theta0: torch.Tensor, data: Dataset, *, seeds: Sequence[int], steps: int,
               lr: float, batch_size: int, quiet: bool = True) -> torch.Tensor:
    """K runs from theta0 (K, D) trained in one vmapped pass (SGD, momentum 0.9, cosine schedule, minibatch
    order from ``seeds``) on ``land``'s train-mode loss (batch statistics; nothing stored): the final (K, D).

    Used in :ref:`ch-your-model`.
    """
    x, y = data.x_train.to(theta0.device), data.y_train.to(theta0.device)
    per_member = vmap(lambda th, idx: land.minibatch_loss(th, (x[idx], y[idx])))
    run = optimize.minimize(theta0, per_member, n=len(y), seeds=list(seeds), lr=lr, momentum=0.9,
                            schedule="cosine", batch_size=batch_size, steps=steps, explode=None,
                            record_every=steps, quiet=quiet, desc="ResNet-18 runs")
    return run.p.detach()


def update_bn_losses(model: nn.Module, thetas: torch.Tensor, batches: list, bn_batches: list) -> torch.Tensor:
    """The reference (K,): for each theta (K, D), a plain copy of ``model`` loaded with it,
    ``torch.optim.swa_utils.update_bn`` on ``bn_batches``, and its mean eval-mode cross-entropy on ``batches``.

    Used in :ref:`ch-your-model`.
    """
    n = sum(len(b[1]) for b in batches)
    out = []
    for theta in thetas:
        m = params.load_into(copy.deepcopy(model), theta)
        update_bn(bn_batches, m)
        m.eval()
        with torch.no_grad():
            out.append(sum(len(yb) / n * F.cross_entropy(m(xb), yb) for xb, yb in batches))
    return torch.stack(out)


def update_bn_check(land: Landscape, paths: dict[str, tuple[torch.Tensor, dict]]) -> tuple[list[float], float]:
    """Wedges' recomputed-BatchNorm losses on paths against plain PyTorch with ``update_bn``
    (:func:`update_bn_losses` on ``land``'s batches and bn_batches).

    ``paths`` maps a name to (control points (2, D) for a line or (3, D) for a Bezier curve, the profile
    evaluated on it with ``'t'`` and ``'loss'``). Returns, over all points,
    ``|Wedges - update_bn| / (1e-4 (1 + |update_bn|))`` per point, and the largest absolute difference.

    Used in :ref:`ch-your-model`.
    """
    ours, ref = [], []
    for ctrl, prof in paths.values():
        points = connect.curve_points(ctrl, prof["t"], kind="bezier")
        ours.append(prof["loss"])
        ref.append(update_bn_losses(land.model, points, land.batches, land.bn_batches))
    ours, ref = torch.cat(ours), torch.cat(ref)
    return ((ours - ref).abs() / (1e-4 * (1 + ref.abs()))).tolist(), float((ours - ref).abs().max())
