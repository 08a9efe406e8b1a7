"""Resolving a chapter's parameters: the preset of a scale, overridden and validated.

Every chapter's parameters cell holds ``scale`` and knobs that default to ``None``;
:func:`resolve` fills the unset knobs from the preset of that scale (the table in
:mod:`wedges_lib.presets`, the one registry of parameters) and validates every value, so
papermill (or a sweep) can override any single one.
"""
from __future__ import annotations

import os
from typing import Any

from .presets import DEVICES, PRESETS, SCALES, SPECS
from .validation import Param, check_arg

__all__ = ["SCALES", "SPECS", "PRESETS", "Param", "Config", "resolve", "default_scale", "pick_device",
           "check_names", "check_arg", "resolve_cell"]


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


def resolve(scale: str | None = None, **overrides: Any) -> Config:
    """Preset of ``scale`` (default :func:`default_scale`) with non-None ``overrides`` applied, validated.

    >>> cfg = resolve("smoke", lr=0.1)
    >>> cfg.lr, cfg.scale
    (0.1, 'smoke')
    >>> resolve("smoke", lr=-1)
    Traceback (most recent call last):
        ...
    ValueError: parameter 'lr': got -1.0; expected a float > 0

    Chapters call it through :func:`resolve_cell`.
    """
    scale = default_scale() if scale is None else SPECS["scale"].check("scale", scale)
    check_names(overrides)
    values = dict(PRESETS[scale])
    values.update({k: SPECS[k].check(k, v) for k, v in overrides.items() if v is not None})
    values["scale"] = scale
    return Config(values)


def resolve_cell(namespace: dict[str, Any]) -> Config:
    """A chapter's configuration from its parameters cell: ``config.resolve_cell(globals())``.

    The knobs are the registry's names defined in ``namespace`` (the parameters cell, plus any that
    papermill injected); the result holds exactly those and ``scale``, so reading a knob the cell does not
    declare fails at once instead of silently taking the preset.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`,
    :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    declared = [k for k in SPECS if k in namespace and k != "scale"]
    cfg = resolve(namespace.get("scale"), **{k: namespace[k] for k in declared})
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
