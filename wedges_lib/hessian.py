"""Hessian-vector products of a loss at a flat parameter vector, exact and vmapped over many vectors.

``loss_fn`` is a function of ``theta`` (D,) returning a scalar; a loss averaged over a dataset too
large for one pass is a :class:`DatasetLoss`, and every product then runs chunk by chunk.
The estimators built on these products (Lanczos, Hutchinson) are :mod:`wedges_lib.curvature`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor
from torch.func import grad, jvp, vmap

LossFn = Callable[[Tensor], Tensor]
Operator = Callable[[Tensor], Tensor]


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DatasetLoss:
    """Mean of ``loss_on_batch(theta, chunk)`` over chunks, weighted by chunk size: theta (D,) -> scalar.

    Calling it evaluates the whole dataset; the curvature functions instead differentiate it
    one chunk at a time, so only one chunk's graph is in memory.
    """

    loss_on_batch: Callable[[Tensor, Any], Tensor]
    chunks: tuple
    weights: tuple  # chunk size / total size, one per chunk

    def parts(self) -> list[tuple[float, LossFn]]:
        """(weight, loss of theta on one chunk) pairs whose weighted sum is this loss."""
        return [
            (w, (lambda theta, c=c: self.loss_on_batch(theta, c)))
            for w, c in zip(self.weights, self.chunks)
        ]

    def __call__(self, theta: Tensor) -> Tensor:
        return sum(w * f(theta) for w, f in self.parts())


def _parts(loss_fn: LossFn) -> list[tuple[float, LossFn]]:
    return loss_fn.parts() if isinstance(loss_fn, DatasetLoss) else [(1.0, loss_fn)]


# --------------------------------------------------------------------------- products


def _check_theta(theta: Tensor) -> int:
    if not isinstance(theta, Tensor) or theta.dim() != 1 or theta.numel() == 0:
        shape = tuple(theta.shape) if isinstance(theta, Tensor) else type(theta).__name__
        raise ValueError(f"theta must be a non-empty flat tensor of shape (D,); got {shape}")
    if not theta.is_floating_point():
        raise ValueError(f"theta must be a floating-point tensor; got dtype {theta.dtype}")
    return theta.numel()


def _check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


def _hvp_one(loss_fn: LossFn, theta: Tensor, v: Tensor) -> Tensor:
    return jvp(grad(loss_fn), (theta,), (v,))[1]


def hvp(loss_fn: LossFn, theta: Tensor, v: Tensor) -> Tensor:
    """Hessian of loss_fn at theta (D,) times v (D,) -> (D,), forward-over-reverse with torch.func."""
    D = _check_theta(theta)
    if v.shape != (D,):
        raise ValueError(f"v must have the shape of theta, ({D},); got {tuple(v.shape)}")
    v = v.to(theta.dtype)
    return sum(w * _hvp_one(f, theta, v) for w, f in _parts(loss_fn))


def _vmapped_hvp(loss_fn: LossFn, theta: Tensor, V: Tensor, chunk_size: int | None) -> Tensor:
    try:
        return vmap(lambda u: _hvp_one(loss_fn, theta, u), chunk_size=chunk_size)(V)
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, NotImplementedError) as err:  # e.g. an autograd.Function with no vmap rule
        warnings.warn(
            f"vmap over Hessian-vector products failed ({str(err).splitlines()[0][:120]}); "
            "falling back to a Python loop over the rows of V",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.stack([_hvp_one(loss_fn, theta, u) for u in V])


def hvp_batched(loss_fn: LossFn, theta: Tensor, V: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Hessian at theta (D,) times each row of V (m, D) -> (m, D), vmapped (a loop if vmap fails).

    ``chunk_size`` bounds how many rows are vmapped at once (memory grows with it).
    """
    D = _check_theta(theta)
    if V.dim() != 2 or V.shape[1] != D:
        raise ValueError(f"V must have shape (m, {D}); got {tuple(V.shape)}")
    if chunk_size is not None:
        _check_positive_int("chunk_size", chunk_size)
    V = V.to(theta.dtype)
    return sum(w * _vmapped_hvp(f, theta, V, chunk_size) for w, f in _parts(loss_fn))


def hessian_operator(loss_fn: LossFn, theta: Tensor) -> Operator:
    """H at theta (D,) as a linear map on (D,) or (m, D) tensors, for many products at one point.

    For a plain loss the gradient's graph is built once and every product back-propagates
    through it (reverse-over-reverse; a stack (m, D) in one vmapped pass, ``is_grads_batched``):
    on CPU about twice as fast per product as :func:`hvp`, which re-runs the forward pass. For
    a :class:`DatasetLoss` each product recomputes chunk by chunk with :func:`hvp` /
    :func:`hvp_batched`, so memory stays one chunk's.
    """
    D = _check_theta(theta)

    def check(V: Tensor) -> Tensor:
        if V.dim() not in (1, 2) or V.shape[-1] != D:
            raise ValueError(f"the operator takes shape ({D},) or (m, {D}); got {tuple(V.shape)}")
        return V.to(theta.dtype)

    if isinstance(loss_fn, DatasetLoss):

        def apply_chunked(V: Tensor) -> Tensor:
            V = check(V)
            return hvp(loss_fn, theta, V) if V.dim() == 1 else hvp_batched(loss_fn, theta, V)

        return apply_chunked

    point = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(point)
        if loss.numel() != 1:
            raise ValueError(f"loss_fn must return a scalar; got shape {tuple(loss.shape)}")
        (gradient,) = torch.autograd.grad(loss, point, create_graph=True)

    def product(V: Tensor, batched: bool) -> Tensor:
        if not gradient.requires_grad:  # loss linear in theta: H = 0
            return torch.zeros_like(V)
        with torch.enable_grad():
            (HV,) = torch.autograd.grad(
                gradient, point, V, retain_graph=True, is_grads_batched=batched, allow_unused=True
            )
        return torch.zeros_like(V) if HV is None else HV.detach()

    def apply(V: Tensor) -> Tensor:
        V = check(V)
        if V.dim() == 2 and V.shape[0] == 1:  # a plain product is cheaper than a batch of one
            return product(V[0], False)[None]
        return product(V, V.dim() == 2)

    return apply
