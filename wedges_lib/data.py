"""Datasets as tensors: MNIST-1D generated locally (the default), CIFAR / Fashion-MNIST for the paper scale.

CIFAR-10/100 and Fashion-MNIST are read from torchvision's on-disk layout under ``$WEDGES_DATA/<name>``; when absent
they are downloaded by torchvision (with its progress bar) if its server is reachable, else the error says where
to put them.

MNIST-1D (Greydanus 2020) is produced by the ``mnist1d`` package's generator — never its download —
and cached on disk under ``$WEDGES_DATA`` (default ``~/.cache/wedges``). Every cache file carries a
SHA-256 of its contents (``wedges_lib.cache``); a corrupt or truncated file is rebuilt, never used.
"""
from __future__ import annotations

import os
import pickle
import random
import socket
import urllib.error
import urllib.parse
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


def _reader(cls):
    """torchvision's class for a data set, checking that its files exist instead of their MD5 sums: torchvision
    downloads and lays out the files, and data made locally in the same layout (the tests' synthetic CIFAR-10) reads
    the same way; a damaged file fails when it is read. Fashion-MNIST's class checks only existence already."""
    if not hasattr(cls, "train_list"):
        return cls

    class Reader(cls):
        def _check_integrity(self) -> bool:
            files = [f for f, _ in (*self.train_list, *self.test_list)] + [self.meta["filename"]]
            return all((Path(self.root) / self.base_folder / f).is_file() for f in files)

        def _load_meta(self) -> None:
            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    Reader.__name__ = Reader.__qualname__ = cls.__name__
    return Reader


def online(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url``'s host answers on port 443 within ``timeout`` s; False at once when ``$WEDGES_OFFLINE`` is
    set (the tests and CI set it: they never reach for the network)."""
    if os.environ.get("WEDGES_OFFLINE"):
        return False
    try:
        socket.create_connection((urllib.parse.urlsplit(url).hostname, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def torchvision_dataset(name: str, root: str | os.PathLike | None = None, download: bool | None = None) -> Dataset:
    """CIFAR-10/100 or Fashion-MNIST as normalised tensors, from ``root`` (default ``cache_dir()/name``).

    ``download``: None (the default) lets torchvision download the data set, with its progress bar, when it is not
    on disk and its server is reachable (:func:`online`); True always asks torchvision; False never. Without the
    data, and offline, the error says where to put it.
    """
    import torchvision

    cls_name, folder, n_classes = _TORCHVISION[name]
    root = Path(root) if root is not None else cache_dir() / name
    cls = _reader(getattr(torchvision.datasets, cls_name))
    url = getattr(cls, "url", None) or cls.mirrors[0]
    if download is None:
        download = not (root / folder).is_dir() and online(url)
    how = (f"Fetch it on a machine with internet access with `python -c \"import wedges_lib.data as d; "
           f"d.torchvision_dataset('{name}', download=True)\"` (or torchvision.datasets.{cls_name}(root, "
           f"download=True)) and copy {root} here, or set WEDGES_DATA to the folder that holds {name}/")
    try:
        if download:
            cls(root, train=True, download=True)  # torchvision's download, with its progress bar
        train, test = cls(root, train=True), cls(root, train=False)
    except (RuntimeError, urllib.error.URLError, OSError) as e:  # torchvision: "Dataset not found or corrupted"
        tried = f" (the download from {url} failed: {e})" if download else ""
        raise FileNotFoundError(f"{name} not found under {root} (expected the folder {root / folder}){tried}. "
                                f"{how}") from e
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as e:
        raise FileNotFoundError(f"{name} under {root / folder} is damaged ({type(e).__name__}: {e}); delete the "
                                f"folder to download it again. {how}") from e

    def tensors(ds):
        x = torch.as_tensor(np.asarray(ds.data), dtype=torch.float32) / 255.0
        x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x[:, None]
        return x, torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)

    (xtr, ytr), (xte, yte) = tensors(train), tensors(test)
    mean, std = xtr.mean(dim=(0, 2, 3), keepdim=True), xtr.std(dim=(0, 2, 3), keepdim=True)
    return Dataset(name, (xtr - mean) / std, ytr, (xte - mean) / std, yte, n_classes)


def validation_split(ds: Dataset, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Hold out a random ``fraction`` of the *training* examples (a permutation drawn from ``seed``): returns
    ``(fit, tuning)``, ``fit`` the remaining training examples with the test set unchanged, ``tuning`` the same
    training examples with the held-out ones in the place of the test set — so a choice made on ``tuning``'s
    "test" scores never sees the test set. Used in :ref:`ch-ensembles`.

    >>> ds = Dataset("toy", torch.arange(10.0)[:, None], torch.arange(10), torch.zeros(2, 1), torch.zeros(2), 10)
    >>> fit, tuning = validation_split(ds, 0.2, seed=0)
    >>> len(fit.y_train), len(tuning.y_test), sorted(fit.y_train.tolist() + tuning.y_test.tolist()) == list(range(10))
    (8, 2, True)
    """
    n = len(ds.y_train)
    n_val = round(fraction * n)
    if not 0 < n_val < n:
        raise ValueError(f"parameter 'val_fraction': got {fraction!r}, which holds out {n_val} of {n} training "
                         "examples; expected a fraction that leaves at least one on each side")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(ds.y_train.device)
    keep, held = order[n_val:], order[:n_val]
    x, y = ds.x_train[keep], ds.y_train[keep]
    return (Dataset(ds.name, x, y, ds.x_test, ds.y_test, ds.n_classes),
            Dataset(ds.name, x, y, ds.x_train[held], ds.y_train[held], ds.n_classes))


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
