"""Datasets as tensors: MNIST-1D generated locally (the default), CIFAR / Fashion-MNIST for the paper scale.

MNIST-1D (Greydanus 2020) is produced by the ``mnist1d`` package's generator — never its download —
and cached on disk under ``$WEDGES_DATA`` (default ``~/.cache/wedges``). Every cache file carries a
SHA-256 of its contents (``wedges_lib.cache``); a corrupt or truncated file is rebuilt, never used.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cache import cache_dir, load_checked, save_checked
from .config import pick_device

DATASETS = ("mnist1d", "cifar10", "cifar100", "fashion_mnist")
MNIST1D_SAMPLES = 5000  # the generator's standard size: 4000 train / 1000 test


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors: ``x_*`` of shape ``(N, *input_shape)`` float32, ``y_*`` of shape (N,) int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> "Dataset":
        """The same dataset on ``device``."""
        t = lambda a: a.to(device)  # noqa: E731
        return Dataset(self.name, t(self.x_train), t(self.y_train), t(self.x_test), t(self.y_test), self.n_classes)


def _generate_mnist1d(seed: int) -> dict:
    """Run the mnist1d generator with its standard arguments (global RNG state restored afterwards)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = MNIST1D_SAMPLES, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    f = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    g = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64))  # noqa: E731
    return dict(x_train=f(d["x"]), y_train=g(d["y"]), x_test=f(d["x_test"]), y_test=g(d["y_test"]))


def mnist1d(seed: int = 42) -> Dataset:
    """MNIST-1D: 4000 train / 1000 test sequences of length 40, 10 classes; generated once, then cached."""
    path = cache_dir() / f"mnist1d-{MNIST1D_SAMPLES}-seed{seed}.pt"
    tensors = load_checked(path)
    if tensors is None:
        tensors = _generate_mnist1d(seed)
        save_checked(tensors, path)
    return Dataset("mnist1d", n_classes=10, **tensors)


_TORCHVISION = {  # name -> (torchvision class, folder, n_classes)
    "cifar10": ("CIFAR10", "cifar-10-batches-py", 10),
    "cifar100": ("CIFAR100", "cifar-100-python", 100),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST", 10),
}


def torchvision_dataset(name: str, root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """CIFAR-10/100 or Fashion-MNIST as normalised tensors, from ``root`` (default ``cache_dir()/name``)."""
    import torchvision

    cls_name, folder, n_classes = _TORCHVISION[name]
    root = Path(root) if root is not None else cache_dir() / name
    cls = getattr(torchvision.datasets, cls_name)
    try:
        train, test = cls(root, train=True, download=download), cls(root, train=False, download=download)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise FileNotFoundError(
            f"{name} not found under {root} (expected the folder {root / folder}). Fetch it on a machine with "
            f"internet access with `python -c \"import wedges_lib.data as d; d.torchvision_dataset('{name}', "
            f"download=True)\"` (or torchvision.datasets.{cls_name}(root, download=True)) and copy {root} here, "
            f"or set WEDGES_DATA to the folder that holds {name}/") from e

    def tensors(ds):
        x = torch.as_tensor(np.asarray(ds.data), dtype=torch.float32) / 255.0
        x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x[:, None]
        return x, torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)

    (xtr, ytr), (xte, yte) = tensors(train), tensors(test)
    mean, std = xtr.mean(dim=(0, 2, 3), keepdim=True), xtr.std(dim=(0, 2, 3), keepdim=True)
    return Dataset(name, (xtr - mean) / std, ytr, (xte - mean) / std, yte, n_classes)


def load(name: str = "mnist1d", n_train: int = 0, device=None) -> Dataset:
    """Dataset ``name`` with its first ``n_train`` training examples (0 = all), on ``device``.

    ``device``: None keeps the tensors on the CPU; 'auto', 'cpu', 'cuda' (a ``device`` parameter's values,
    see :func:`wedges_lib.config.pick_device`) or a torch.device move them there.

    Used in :ref:`ch-quickstart`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`, :ref:`ch-sets` and
    :ref:`ch-ensembles`.
    """
    if name not in DATASETS:
        raise ValueError(f"parameter 'dataset': got {name!r}; expected one of {', '.join(DATASETS)}")
    if not isinstance(n_train, int) or n_train < 0:
        raise ValueError(f"parameter 'n_train': got {n_train!r}; expected an int >= 0 (0 = all)")
    ds = mnist1d() if name == "mnist1d" else torchvision_dataset(name)
    if n_train:
        ds = Dataset(ds.name, ds.x_train[:n_train], ds.y_train[:n_train], ds.x_test, ds.y_test, ds.n_classes)
    if isinstance(device, str):
        device = pick_device(device)
    return ds.to(device) if device is not None else ds
