"""Resolving a chapter's parameters: the preset of a scale, overridden and validated.

Every chapter's parameters cell holds ``scale`` and knobs that default to ``None``;
:func:`resolve` fills the unset knobs from the preset of that scale (the table in
:mod:`wedges_lib.presets`, the one registry of parameters) and validates every value, so
papermill (or a sweep) can override any single one.
"""
from __future__ import annotations

import os
from typing import Any

from .presets import CHAPTER_PRESETS, DATASETS, DEVICES, MODELS, PRESETS, SCALES, SPECS
from .validation import Param, check_arg

__all__ = ["SCALES", "SPECS", "PRESETS", "Param", "Config", "resolve", "default_scale", "pick_device",
           "check_names", "check_arg", "resolve_cell", "check_model_data"]

# What each data set's inputs are, and the data sets each model is built for (a model not listed, like the MLPs,
# flattens any input). cifar_cnn's head assumes 32 x 32 images.
DATA_KIND = {"mnist1d": "sequences (40,)", "cifar10": "images (3, 32, 32)", "cifar100": "images (3, 32, 32)",
             "fashion_mnist": "images (1, 28, 28)"}
MODEL_DATA = {"cnn1d": ("mnist1d",), "cifar_cnn": ("cifar10", "cifar100"),
              "resnet": ("cifar10", "cifar100", "fashion_mnist")}


def default_scale() -> str:
    """The scale used when a chapter's ``scale`` is None: ``$WEDGES_SCALE`` or 'cpu'."""
    scale = os.environ.get("WEDGES_SCALE", "cpu")
    return SPECS["scale"].check("WEDGES_SCALE", scale)


class Config(dict):
    """A mapping of resolved parameters, also readable as attributes (``cfg.lr``); read-only."""

    def __setitem__(self, key, value):
        raise TypeError("Config is read-only; pass overrides to resolve() instead")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy/pickle probing for special methods: not a parameter
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r} in this configuration (a chapter declares every knob it "
                                 f"reads in its parameters cell); known: {', '.join(sorted(self))}") from None


def check_names(names) -> None:
    """Raise ValueError for any parameter name that no chapter knows."""
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; valid parameters: {', '.join(sorted(SPECS))}")


def check_model_data(dataset: str, model: str) -> None:
    """Raise ValueError, naming both parameters, when ``model`` cannot take ``dataset``'s inputs.

    >>> check_model_data("cifar10", "resnet")
    >>> check_model_data("mnist1d", "resnet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: parameters 'dataset' and 'model': model 'resnet' takes images; dataset 'mnist1d' is sequences (40,)...
    """
    fits = MODEL_DATA.get(model, DATASETS)
    if dataset not in fits:
        kind = DATA_KIND[fits[0]].split(" ")[0]
        ok = [m for m in MODELS if dataset in MODEL_DATA.get(m, DATASETS)]
        raise ValueError(f"parameters 'dataset' and 'model': model {model!r} takes {kind}; dataset {dataset!r} is "
                         f"{DATA_KIND[dataset]}. With dataset {dataset!r} use a model among {', '.join(ok)}; model "
                         f"{model!r} takes dataset {', '.join(fits)}")


def resolve(scale: str | None = None, chapter: str | None = None, **overrides: Any) -> Config:
    """Preset of ``scale`` (default :func:`default_scale`), then the base knobs ``chapter`` (a chapter's file stem)
    sets for itself (:data:`~wedges_lib.presets.CHAPTER_PRESETS`), then the non-None ``overrides``, validated.

    >>> cfg = resolve("smoke", lr=0.1)
    >>> cfg.lr, cfg.scale
    (0.1, 'smoke')
    >>> resolve("smoke", lr=-1)
    Traceback (most recent call last):
        ...
    ValueError: parameter 'lr': got -1.0; expected a float > 0

    ``dataset`` and ``model`` are checked together (:func:`check_model_data`). Chapters call it through
    :func:`resolve_cell`.
    """
    scale = default_scale() if scale is None else SPECS["scale"].check("scale", scale)
    check_names(overrides)
    values = dict(PRESETS[scale])
    values.update(CHAPTER_PRESETS.get(chapter or "", {}).get(scale, {}))
    values.update({k: SPECS[k].check(k, v) for k, v in overrides.items() if v is not None})
    values["scale"] = scale
    check_model_data(values["dataset"], values["model"])  # before anything runs: an image model on sequences fails
    return Config(values)


def resolve_cell(namespace: dict[str, Any], chapter: str | None = None) -> Config:
    """A chapter's configuration from its parameters cell: ``config.resolve_cell(globals(), CHAPTER)``, with
    ``chapter`` its file's stem (its own seeds and budget: :func:`resolve`).

    The knobs are the registry's names defined in ``namespace`` (the parameters cell, plus any that
    papermill injected); the result holds exactly those and ``scale``, so reading a knob the cell does not
    declare fails at once instead of silently taking the preset.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`,
    :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    declared = [k for k in SPECS if k in namespace and k != "scale"]
    cfg = resolve(namespace.get("scale"), chapter, **{k: namespace[k] for k in declared})
    return Config({k: cfg[k] for k in ["scale", *declared]})


def pick_device(device: str = "auto"):
    """The torch device for a ``device`` parameter: 'auto' means cuda when available. Used in :ref:`ch-your-model`."""
    import torch

    if isinstance(device, str):
        check_arg("device", device, device in DEVICES, SPECS["device"].describe())
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("parameter 'device': 'cuda' requested but no CUDA device is available; use 'cpu' or 'auto'")
    return torch.device(device)
