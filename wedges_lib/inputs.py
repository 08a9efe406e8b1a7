"""Your own inputs, named by import paths and files: a model factory, checkpoints, data and a loss, each loaded and
checked against the others before anything runs.

Every error is a ValueError of one line that names the parameter (``own_model``, ``own_model_kwargs``,
``checkpoints``, ``own_data``, ``objective``: :mod:`wedges_lib.presets`) and shows an example. An import path reads
``package.module:name`` (resolved by ``pkgutil.resolve_name``; the module must be importable). A checkpoint is a
file of ``torch.save(model.state_dict(), path)`` (or a training script's dict holding one under ``state_dict``,
``model_state_dict`` or ``model``), read with ``weights_only=True``. Data come as a :class:`wedges_lib.data.Dataset`,
a torch ``Dataset`` of (x, y), an iterable of (x, y) batches, or a (train, test) pair of those.
"""
from __future__ import annotations

import copy
import inspect
import pkgutil
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import params
from .data import DATASETS, Dataset, load
from .objectives import CROSS_ENTROPY, Objective, as_objective, prediction
from .presets import OWN_DATA, is_import_path
from .validation import check_arg


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

    def draw(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randint(0, n_classes, (n,), generator=g)
        return protos[y] + noise * torch.randn(n, 3, 32, 32, generator=g), y

    (xtr, ytr), (xte, yte) = draw(n_train), draw(n_test)
    scale = xtr.std()
    return Dataset("random_images", xtr / scale, ytr, xte / scale, yte, n_classes)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def resolve(name: str, path: str) -> Any:
    """The object an import path 'package.module:name' names, or ValueError naming the parameter ``name``."""
    try:
        return pkgutil.resolve_name(path)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"parameter {name!r}: got {path!r}, which cannot be imported ({_first_line(e)}); the module "
                         f"must be importable (on PYTHONPATH), e.g. -p {name} torchvision.models:resnet18") from None


def build(factory: Callable, kwargs: dict, seed: int) -> nn.Module:
    """``factory(**kwargs)`` with torch's random state seeded (and restored): the model, or ValueError naming
    own_model / own_model_kwargs."""
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as e:
        raise ValueError(f"parameter 'own_model_kwargs': got {kwargs!r}, which the factory does not take ({e}); "
                         "e.g. -p own_model_kwargs \"{'num_classes': 10}\"") from None
    except ValueError:  # a builtin without a signature: let the call tell
        pass
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = factory(**kwargs)
        except Exception as e:  # the user's code: any failure is a bad input, said in one line
            raise ValueError(f"parameters 'own_model' and 'own_model_kwargs': calling the factory with {kwargs!r} "
                             f"failed ({_first_line(e)})") from None
    check_arg("own_model", type(model).__name__, isinstance(model, nn.Module),
              "a factory that returns a torch.nn.Module, e.g. torchvision.models:resnet18")
    return model


def _stack(items, n: int) -> tuple[Tensor, Tensor]:
    """The first n examples of a torch Dataset of (x, y) or an iterable of (x, y) batches, as tensors."""
    xs, ys, count = [], [], 0
    if hasattr(items, "__getitem__") and hasattr(items, "__len__"):
        for i in range(min(n, len(items))):
            x, y = items[i][:2]
            xs.append(torch.as_tensor(x)[None])
            ys.append(torch.as_tensor(y).reshape(1))
    else:
        for batch in items:
            x, y = batch[:2]
            xs.append(torch.as_tensor(x))
            ys.append(torch.as_tensor(y).reshape(-1))
            count += len(ys[-1])
            if count >= n:
                break
    return torch.cat(xs)[:n], torch.cat(ys)[:n]


def _as_dataset(obj: Any, n_train: int, n_test: int) -> Dataset:
    """A factory's result as a Dataset: a Dataset itself, a (train, test) pair, or one source split in two."""
    if isinstance(obj, Dataset):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2 and not isinstance(obj[0], Tensor):
        (xtr, ytr), (xte, yte) = _stack(obj[0], n_train), _stack(obj[1], n_test)
    else:
        x, y = _stack(obj, n_train + n_test)
        check_arg("own_data", f"{len(y)} examples", len(y) > n_train, f"more than own_n_train = {n_train} examples "
                  "(the rest, up to own_n_test, are held out); lower -p own_n_train")
        xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    x_float = xtr.float() if xtr.is_floating_point() else xtr
    return Dataset("own", x_float, ytr, xte.to(x_float.dtype), yte, int(max(ytr.max(), yte.max())) + 1)


def load_data(name: str, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """The data ``own_data`` names: :func:`random_images` ('random'), a data set of :mod:`wedges_lib.data`, or the
    result of a factory given by import path (a Dataset, a torch Dataset of (x, y), an iterable of (x, y) batches,
    or a (train, test) pair of those), cut to n_train / n_test examples."""
    check_arg("own_data", name, name in OWN_DATA or is_import_path(name),
              f"one of {', '.join(OWN_DATA)} or an import path, e.g. mypkg.data:make")
    if name == "random":
        return random_images(n_train, n_test, seed=seed)
    if name in DATASETS:
        d = load(name, n_train)
    else:
        factory = resolve("own_data", name)
        try:
            d = _as_dataset(factory() if callable(factory) else factory, n_train, n_test)
        except ValueError:
            raise
        except Exception as e:
            raise ValueError(f"parameter 'own_data': {name!r} gave no (x, y) examples ({_first_line(e)}); expected a "
                             "factory returning a wedges_lib Dataset, a torch Dataset of (x, y) or (x, y) batches, "
                             "e.g. -p own_data mypkg.data:make") from None
    return Dataset(d.name, d.x_train[:n_train], d.y_train[:n_train], d.x_test[:n_test], d.y_test[:n_test],
                   d.n_classes)


def _state_dict(path: str) -> dict[str, Tensor]:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"parameter 'checkpoints': {path} is not a state dict torch.load can read with "
                         f"weights_only=True ({_first_line(e)}); save one with torch.save(model.state_dict(), path)"
                         ) from None
    for key in ("state_dict", "model_state_dict", "model"):  # a training script's wrapper
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    check_arg("checkpoints", path, isinstance(sd, dict) and all(isinstance(v, Tensor) for v in sd.values()),
              "files holding a model's state_dict (torch.save(model.state_dict(), path))")
    return sd


def load_checkpoint(model: nn.Module, path: str, described: str) -> Tensor:
    """The checkpoint at ``path`` loaded into ``model`` (its buffers too): theta (D,); ValueError naming
    'checkpoints' with what does not fit."""
    sd, own = _state_dict(path), model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
              if k in sd and sd[k].shape != v.shape]
    parts = [f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
             for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)) if keys]
    check_arg("checkpoints", Path(path).name, not parts, f"a state dict of {described} ({'; '.join(parts)})")
    model.load_state_dict(sd)
    return params.flatten(model).detach().clone()


def objective_of(name: str) -> Objective:
    """The loss ``objective`` names: 'cross_entropy', or an import path to an Objective or a callable
    (output, batch) -> per-example losses (N,) or their mean."""
    if name == "cross_entropy":
        return CROSS_ENTROPY
    obj = resolve("objective", name)
    check_arg("objective", name, isinstance(obj, Objective) or callable(obj),
              "an import path to a wedges_lib.objectives.Objective or a callable loss(output, batch)")
    return as_objective(obj)


def check_fit(model: nn.Module, data: Dataset, objective: Objective, described: str, data_name: str,
              objective_name: str) -> None:
    """``model`` takes ``data``'s inputs (a forward pass on two examples, a copy in eval mode), its classes cover
    the labels (under cross-entropy), and ``objective`` gives a finite mean loss on its output; else ValueError
    naming own_data / own_model / objective."""
    batch = (data.x_train[:2], data.y_train[:2])
    args, kwargs = objective.inputs(batch)
    try:
        with torch.no_grad():
            out = copy.deepcopy(model).eval()(*args, **kwargs)
    except Exception as e:
        raise ValueError(f"parameters 'own_data' and 'own_model': {described} cannot take own_data {data_name!r} "
                         f"(inputs of shape {tuple(data.x_train.shape[1:])}): {_first_line(e)}") from None
    if objective is CROSS_ENTROPY:
        classes, top = prediction(out).shape[-1], int(max(data.y_train.max(), data.y_test.max()))
        check_arg("own_data", f"labels up to {top}", top < classes, f"labels below the {classes} outputs of "
                  f"{described}: set the model's classes, e.g. -p own_model_kwargs \"{{'num_classes': {top + 1}}}\"")
    try:
        loss = objective.loss(out, batch)
    except Exception as e:
        raise ValueError(f"parameter 'objective': {objective_name!r} fails on the model's output ({_first_line(e)})"
                         ) from None
    check_arg("objective", objective_name, loss.ndim == 0 and bool(torch.isfinite(loss)),
              "a loss giving a finite mean on the model's output")
