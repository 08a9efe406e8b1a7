"""Scale presets and parameter validation.

Every chapter's parameters cell holds ``scale`` and knobs that default to ``None``;
:func:`resolve` fills the unset knobs from the preset of that scale and validates every value,
so papermill (or a sweep) can override any single one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SCALES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Param:
    """The spec of one parameter: its type, valid range or choices, and what it means."""

    type: type
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    low_open: bool = False  # True: value must be > low (not >=)

    def describe(self) -> str:
        """The valid values, in words."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "" if self.low is None else (f"> {self.low}" if self.low_open else f">= {self.low}")
        hi = "" if self.high is None else f"<= {self.high}"
        rng = " and ".join(s for s in (lo, hi) if s)
        return f"a{'n' if self.type is int else ''} {self.type.__name__}" + (f" {rng}" if rng else "")

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` coerced to this type, or raise ValueError naming the parameter."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ValueError(f"parameter {name!r}: got {value!r} ({type(value).__name__}); expected {self.describe()}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"parameter {name!r}: got {value!r}; expected {self.describe()}")
        items = value if self.type is tuple else (value,)
        for v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bad = (self.low is not None and (v <= self.low if self.low_open else v < self.low)) or (
                    self.high is not None and v > self.high)
                if bad or v != v:
                    raise ValueError(f"parameter {name!r}: got {value!r}; expected {self.describe()}")
        return value


def _p(type_: type, doc: str, low=None, high=None, choices=None, low_open=False) -> Param:
    return Param(type_, doc, low, high, tuple(choices) if choices else None, low_open)


# Every parameter any chapter may take. A chapter passes its parameters cell to resolve().
SPECS: dict[str, Param] = {
    "scale": _p(str, "preset that fills unset parameters", choices=SCALES),
    "seed": _p(int, "base random seed", low=0),
    "n_seeds": _p(int, "independent repetitions for error bars", low=1),
    "dataset": _p(str, "dataset name", choices=("mnist1d", "cifar10", "cifar100", "fashion_mnist")),
    "n_train": _p(int, "training examples used (0 = all)", low=0),
    "model": _p(str, "architecture", choices=("mlp", "cnn1d", "cifar_cnn", "resnet")),
    "width": _p(float, "width multiplier", low=0, low_open=True),
    "optimizer": _p(str, "optimiser", choices=("sgd", "adam")),
    "lr": _p(float, "learning rate", low=0, low_open=True),
    "momentum": _p(float, "SGD momentum", low=0, high=0.999),
    "l2": _p(float, "L2 penalty strength (coupled weight decay)", low=0),
    "schedule": _p(str, "learning-rate schedule", choices=("constant", "step", "cosine")),
    "batch_size": _p(int, "minibatch size", low=1),
    "steps": _p(int, "optimisation steps", low=1),
    "record_every": _p(int, "record the trajectory every this many steps", low=1),
    "n_interp": _p(int, "points along an interpolation path", low=3),
    "device": _p(str, "torch device ('auto' = cuda when available)", choices=("auto", "cpu", "cuda")),
}

_COMMON = {
    "smoke": dict(seed=0, n_seeds=2, dataset="mnist1d", n_train=1000, model="mlp", width=0.25,
                  optimizer="sgd", lr=0.1, momentum=0.9, l2=0.0, schedule="constant", batch_size=128,
                  steps=150, record_every=15, n_interp=11, device="auto"),
    "cpu": dict(seed=0, n_seeds=3, dataset="mnist1d", n_train=0, model="mlp", width=1.0,
                optimizer="sgd", lr=0.05, momentum=0.9, l2=0.0, schedule="cosine", batch_size=128,
                steps=3000, record_every=50, n_interp=31, device="auto"),
    "paper": dict(seed=0, n_seeds=5, dataset="cifar10", n_train=0, model="cifar_cnn", width=1.0,
                  optimizer="sgd", lr=0.05, momentum=0.9, l2=5e-4, schedule="cosine", batch_size=128,
                  steps=20000, record_every=500, n_interp=51, device="auto"),
}
PRESETS: dict[str, dict[str, Any]] = {s: dict(v) for s, v in _COMMON.items()}


def register(specs: dict[str, Param], presets: dict[str, dict[str, Any]]) -> None:
    """Add a chapter's own parameters: their specs and a value for every scale."""
    for name in specs:
        if name in SPECS and SPECS[name] != specs[name]:
            raise ValueError(f"parameter {name!r} is already registered with a different spec")
    missing = [s for s in SCALES if set(presets.get(s, {})) != set(specs)]
    if missing:
        raise ValueError(f"register: presets for scales {missing} must set exactly {sorted(specs)}")
    SPECS.update(specs)
    for s in SCALES:
        PRESETS[s].update({k: specs[k].check(k, v) for k, v in presets[s].items()})


def default_scale() -> str:
    """The scale used when a chapter's ``scale`` is None: ``$WEDGES_SCALE`` or 'cpu'."""
    scale = os.environ.get("WEDGES_SCALE", "cpu")
    return SPECS["scale"].check("WEDGES_SCALE", scale)


class Config(dict):
    """A mapping of resolved parameters, also readable as attributes (``cfg.lr``); read-only."""

    def __setitem__(self, key, value):
        raise TypeError("Config is read-only; pass overrides to resolve() instead")

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}; known: {', '.join(sorted(self))}") from None


def check_names(names) -> None:
    """Raise ValueError for any parameter name that no chapter knows."""
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; valid parameters: {', '.join(sorted(SPECS))}")


def resolve(scale: str | None = None, **overrides: Any) -> Config:
    """Preset of ``scale`` (default :func:`default_scale`) with non-None ``overrides`` applied, validated."""
    scale = default_scale() if scale is None else SPECS["scale"].check("scale", scale)
    check_names(overrides)
    values = dict(PRESETS[scale])
    values.update({k: SPECS[k].check(k, v) for k, v in overrides.items() if v is not None})
    values["scale"] = scale
    return Config(values)


def pick_device(device: str = "auto"):
    """The torch device for a ``device`` parameter: 'auto' means cuda when available."""
    import torch

    if isinstance(device, str) and device not in SPECS["device"].choices:
        raise ValueError(f"parameter 'device': got {device!r}; expected {SPECS['device'].describe()}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("parameter 'device': 'cuda' requested but no CUDA device is available; use 'cpu' or 'auto'")
    return torch.device(device)
