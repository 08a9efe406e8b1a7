"""Any loss and any batch format: how a model is called on a batch and how its output is scored.

A **batch** is a tensor (inputs only), a tuple or list ``(x, y, ...)`` of tensors, or a dict of tensors (as
HuggingFace models take them); examples lie along dim 0 of every tensor. An :class:`Objective` says

* how to call the model on a batch: ``inputs(batch) -> (args, kwargs)``; by default a tuple's first entry is
  the input, and a dict's entries other than its targets (``TARGET_KEYS``) are keyword arguments;
* how to score the output: ``per_example(output, batch) -> (N,)`` losses, whose mean is the loss. A scalar
  is accepted too (the mean itself); only the empirical Fisher needs per-example losses.

The default is cross-entropy on ``(x, y)`` — the book's loss. A model output may be a tensor, a dict or
object with ``logits`` (HuggingFace), or a tuple whose first entry is the prediction.

>>> import torch.nn.functional as F
>>> out, batch = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), (torch.zeros(2, 3), torch.tensor([0, 1]))
>>> float(CROSS_ENTROPY.loss(out, batch)) == float(F.cross_entropy(out, batch[1]))
True
>>> mse = Objective(lambda out, batch: (out - targets(batch)).pow(2).mean(1))  # any loss, per example
>>> mse.loss(torch.tensor([[1.0], [3.0]]), {"x": torch.zeros(2, 1), "labels": torch.tensor([[0.0], [1.0]])})
tensor(2.5000)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch  # noqa: F401  (the examples)
import torch.nn.functional as F
from torch import Tensor

from .validation import check_arg

Batch = Any  # a Tensor, a tuple / list of tensors, or a dict of tensors
TARGET_KEYS = ("labels", "label", "y", "target", "targets")


def _kind(batch: Batch) -> str:
    if isinstance(batch, Tensor):
        return "tensor"
    if isinstance(batch, Mapping):
        return "dict"
    if isinstance(batch, (tuple, list)) and batch and all(isinstance(t, Tensor) for t in batch):
        return "tuple"
    raise ValueError(f"parameter 'batch': got {type(batch).__name__}; expected a tensor, a tuple/list of tensors "
                     "(x, y, ...) or a dict of tensors, examples along dim 0")


def model_inputs(batch: Batch) -> tuple[tuple, dict]:
    """(args, kwargs) to call a model with on ``batch``: a tensor itself, a tuple's first entry, a dict's
    entries except its targets (``TARGET_KEYS``)."""
    kind = _kind(batch)
    if kind == "tensor":
        return (batch,), {}
    if kind == "tuple":
        return (batch[0],), {}
    return (), {k: v for k, v in batch.items() if k not in TARGET_KEYS}


def targets(batch: Batch) -> Tensor:
    """The targets of ``batch``: a tuple's second entry, or a dict's first key among ``TARGET_KEYS``."""
    kind = _kind(batch)
    if kind == "tuple" and len(batch) >= 2:
        return batch[1]
    if kind == "dict":
        for k in TARGET_KEYS:
            if k in batch:
                return batch[k]
    raise ValueError(f"parameter 'batch': no targets in a {kind} batch; expected a tuple (x, y, ...) or a dict "
                     f"with one of the keys {', '.join(TARGET_KEYS)} (or an Objective that needs no targets)")


def prediction(output: Any) -> Tensor:
    """The prediction in a model's output: a tensor, ``output['logits']`` / ``output.logits``, or ``output[0]``."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise ValueError(f"model output of type {type(output).__name__} holds no prediction; expected a tensor, "
                     "a dict / object with 'logits', or a tuple whose first entry is a tensor")


def cross_entropy(output: Any, batch: Batch) -> Tensor:
    """Per-example cross-entropy (N,) of the logits in ``output`` against the batch's class labels."""
    return F.cross_entropy(prediction(output), targets(batch), reduction="none")


@dataclass(frozen=True)
class Objective:
    """How a model is called on a batch (``inputs``) and scored (``per_example``: (N,) losses, or their mean).

    Used in :ref:`ch-your-model`.
    """

    per_example: Callable[[Any, Batch], Tensor] = cross_entropy
    inputs: Callable[[Batch], tuple[tuple, dict]] = model_inputs

    def loss(self, output: Any, batch: Batch) -> Tensor:
        """The mean loss () of ``output`` on ``batch``."""
        v = self.per_example(output, batch)
        return v.mean() if v.ndim else v

    def losses(self, output: Any, batch: Batch) -> Tensor:
        """The per-example losses (N,) (an objective that returns only a mean cannot give them)."""
        v = self.per_example(output, batch)
        check_arg("objective", "a loss returning a scalar", v.ndim == 1,
                  "a loss returning per-example losses (N,) (needed for the empirical Fisher)")
        return v


CROSS_ENTROPY = Objective(cross_entropy)
def as_objective(objective: Objective | Callable | None) -> Objective:
    """An :class:`Objective` from itself, from a plain loss ``f(output, batch)`` (default inputs), or from
    None (cross-entropy)."""
    if objective is None:
        return CROSS_ENTROPY
    if isinstance(objective, Objective):
        return objective
    check_arg("objective", type(objective).__name__, callable(objective),
              "an Objective, a callable loss(output, batch) -> (N,) or (), or None (cross-entropy)")
    return Objective(objective)


def batch_size(batch: Batch) -> int:
    """Examples in ``batch``: the length of its first tensor."""
    kind = _kind(batch)
    first = batch if kind == "tensor" else (batch[0] if kind == "tuple" else next(iter(batch.values())))
    return int(first.shape[0])


def split(*tensors: Tensor, size: int) -> list[tuple[Tensor, ...]]:
    """Tensors with a shared first dim N (e.g. x, y) cut into tuple batches of ``size`` examples (the last may be
    shorter). Used in :ref:`ch-your-model`.

    >>> [tuple(b[0].shape) for b in split(torch.zeros(5, 2), torch.zeros(5), size=2)]
    [(2, 2), (2, 2), (1, 2)]
    """
    check_arg("size", size, isinstance(size, int) and size >= 1, "an int >= 1")
    check_arg("tensors", [tuple(t.shape) for t in tensors], len(tensors) >= 1
              and all(t.shape[0] == tensors[0].shape[0] for t in tensors), "tensors sharing their first dim")
    return list(zip(*(t.split(size) for t in tensors)))


def check_batches(batches: Sequence[Batch], name: str = "batches") -> list:
    """``batches`` as a non-empty list of batches (each checked); errors name ``name``."""
    check_arg(name, type(batches).__name__, isinstance(batches, list) and len(batches) >= 1,
              "a non-empty list of batches, e.g. [(x, y)] for one batch, or objectives.split(x, y, size=...)")
    for b in batches:
        _kind(b)
    return list(batches)
