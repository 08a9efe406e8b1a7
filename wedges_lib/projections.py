"""Random linear maps P: R^d -> R^D that never store a dense D x d matrix (for :mod:`wedges_lib.subspace`).

Projections are callables ``P(w)``: (..., d) -> (..., D), differentiable in ``w``. Their columns
``P e_j`` are random and nearly orthonormal: norms below; pairwise cosines are ~ N(0, 1/D)
(Fastfood's ~ N(0, 2/D), from the spread of G²):

- ``dense``    — the reference: an explicit (D, d) Gaussian matrix, entries N(0, 1/D), so
  E‖P e_j‖² = 1 with relative spread sqrt(2/D). Small D·d only.
- ``blocked``  — the same matrix, never stored: generated block by block (``block_rows`` rows at a
  time, each block from its own seed) in the forward pass and generated again in the backward
  pass. Memory O(D + block_rows·d); time O(D·d) per call. Its explicit matrix equals ``dense``'s
  for the same seed and block size.
- ``sparse``   — every parameter (row) gets ``nnz`` random ±1 entries in balanced random columns,
  then each column is divided by its exact norm: ‖P e_j‖ = 1 exactly. Memory and time O(nnz·D + d).
- ``fastfood`` — as in uber-research/intrinsic-dimension: blocks ``H G Π H B`` (L = 2^k >= d, H the
  unnormalised Walsh–Hadamard matrix, B random signs, Π a random permutation, G Gaussian) applied to
  w zero-padded to L, ceil(D / L) independent blocks stacked and cut to D rows. Block b is divided by
  its exact column norm sqrt(L ‖G_b‖²) and by sqrt(D / L), so ‖P e_j‖ = 1 exactly when L divides D,
  and otherwise 1 up to the cut last block's share (relative error ~ sqrt(2 (D mod L)) / D).
  Memory O(D + d); time O(D log L). ``block = 2^ceil(log2 D)`` gives the single-block form of Uber's code.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .presets import PROJECTIONS
from .validation import check_arg

# --- Walsh–Hadamard -----------------------------------------------------------------------------

_HADAMARD: dict[tuple, torch.Tensor] = {}


def hadamard(n: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The unnormalised Sylvester Hadamard matrix (n, n), entries ±1, H[i, j] = (-1)^popcount(i & j).

    >>> H = hadamard(4)
    >>> H.int().tolist()
    [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]
    >>> torch.equal(H @ H.T, 4 * torch.eye(4))  # orthogonal rows of norm sqrt(n)
    True
    """
    check_arg("n", n, isinstance(n, int) and n >= 1 and n & (n - 1) == 0, "a power of two")
    H = torch.ones(1, 1, dtype=dtype, device=device)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)])
    return H


def _fwht(x: torch.Tensor, chunk_bits: int = 5) -> torch.Tensor:
    n = x.shape[-1]
    batch = x.shape[:-1]
    bits, inner = n.bit_length() - 1, 1
    # H_n = ⊗ H_h over groups of bits, lowest first: x viewed as (outer, h, inner) gets H_h on its middle axis
    # (on its last when inner = 1), the product written in place of the group: no transposed copies
    while bits > 0:
        k = min(chunk_bits, bits)
        h = 1 << k
        key = (h, x.dtype, x.device)
        if key not in _HADAMARD:
            _HADAMARD[key] = hadamard(h, x.dtype, x.device)
        H = _HADAMARD[key]
        x = x.reshape(-1, h) @ H if inner == 1 else torch.matmul(H, x.reshape(-1, h, inner))
        inner *= h
        bits -= k
    return x.reshape(*batch, n)


class _FWHT(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return _fwht(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return _fwht(g)  # H is symmetric


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised fast Walsh–Hadamard transform H x along the last axis (..., n), n = 2^k; O(n log n)."""
    n = x.shape[-1]
    check_arg("x.shape[-1]", n, n >= 1 and n & (n - 1) == 0, "a power of two")
    return _FWHT.apply(x)


# --- projections --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A random linear map P: R^d -> R^D; ``P(w)`` maps (..., d) to (..., D) and is differentiable in w."""

    kind: str
    D: int
    d: int
    seed: int
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    state: dict = field(default_factory=dict, repr=False)  # the tensors it holds (for inspection)

    @property
    def nbytes(self) -> int:
        """Memory held by the projection's own tensors, in bytes."""
        def size(t):
            if t.layout == torch.sparse_csr:
                return sum(size(u) for u in (t.crow_indices(), t.col_indices(), t.values()))
            return t.numel() * t.element_size()
        return sum(size(t) for t in self.state.values())

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        if w.shape[-1] != self.d:
            raise ValueError(f"parameter 'w': last axis has {w.shape[-1]} entries; expected d = {self.d}")
        return self.fn(w)


def _seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


def _default_block_rows(d: int) -> int:
    return max(1, (1 << 22) // d)  # ~4M entries (16 MB) per block


def _gaussian_block(D: int, d: int, seed: int, b: int, rows: int, device, dtype) -> torch.Tensor:
    g = torch.Generator(device=device).manual_seed(_seed(seed, b))
    return torch.randn(rows, d, generator=g, device=device, dtype=dtype) / math.sqrt(D)


def _blocks(D: int, block_rows: int):
    return [(b, start, min(block_rows, D - start)) for b, start in enumerate(range(0, D, block_rows))]


def _check_dims(D: int, d: int) -> None:
    check_arg("D", D, isinstance(D, int) and D >= 1, "an int >= 1")
    check_arg("d", d, isinstance(d, int) and 1 <= d <= D, f"an int in [1, D = {D}]")


def dense_projection(D: int, d: int, seed: int = 0, *, block_rows: int | None = None, device=None,
                     dtype=torch.float32) -> Projection:
    """The reference projection: an explicit (D, d) matrix of N(0, 1/D) entries, built block by block from ``seed``."""
    _check_dims(D, d)
    rows = block_rows or _default_block_rows(d)
    M = torch.cat([_gaussian_block(D, d, seed, b, n, device, dtype) for b, _, n in _blocks(D, rows)])
    return Projection("dense", D, d, seed, lambda w: w @ M.T, dict(matrix=M))


def blocked_projection(D: int, d: int, seed: int = 0, *, block_rows: int | None = None, device=None,
                       dtype=torch.float32) -> Projection:
    """``dense_projection``'s matrix, never stored: each block of rows is regenerated from its seed when used."""
    _check_dims(D, d)
    rows = block_rows or _default_block_rows(d)
    return Projection("blocked", D, d, seed, lambda w: _Blocked.apply(w, D, d, seed, rows))


class _Blocked(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, D, d, seed, rows):
        ctx.spec = (D, d, seed, rows)
        w2 = w.reshape(-1, d)
        out = w2.new_empty(w2.shape[0], D)
        for b, start, n in _blocks(D, rows):
            out[:, start:start + n] = w2 @ _gaussian_block(D, d, seed, b, n, w.device, w.dtype).T
        return out.reshape(*w.shape[:-1], D)

    @staticmethod
    def backward(ctx, g):
        D, d, seed, rows = ctx.spec
        g2 = g.reshape(-1, D)
        gw = g2.new_zeros(g2.shape[0], d)
        for b, start, n in _blocks(D, rows):
            gw += g2[:, start:start + n] @ _gaussian_block(D, d, seed, b, n, g.device, g.dtype)
        return gw.reshape(*g.shape[:-1], d), None, None, None, None


def sparse_projection(D: int, d: int, seed: int = 0, *, nnz: int = 4, device=None,
                      dtype=torch.float32) -> Projection:
    """``nnz`` ±1 entries per row in balanced random columns, each column scaled to norm exactly 1."""
    _check_dims(D, d)
    check_arg("nnz", nnz, isinstance(nnz, int) and 1 <= nnz <= d and nnz * D >= d,
           f"an int in [1, d] with nnz * D >= d = {d}")
    g = torch.Generator().manual_seed(_seed(seed, 1))
    itype = torch.int32 if nnz * D < 2 ** 31 else torch.int64
    # balanced: every column is drawn floor or ceil(nnz D / d) times
    cols = (torch.randperm(nnz * D, generator=g) % d).to(itype).reshape(D, nnz)
    sign = (torch.randint(0, 2, (D, nnz), generator=g) * 2 - 1).to(dtype)
    # exact column norms, repeats within a row included: ‖P e_j‖² = Σ_i (Σ_{k: c_ik = j} s_ik)²
    row_sum = sum(sign[:, k:k + 1] * (cols == cols[:, k:k + 1]) for k in range(nnz))  # Σ_k' s_ik' [c_ik' = c_ik]
    norm2 = torch.zeros(d, dtype=dtype).index_add_(0, cols.reshape(-1), (sign * row_sum).reshape(-1))
    del row_sum
    if not bool((norm2 > 0).all()):
        raise ValueError(f"parameter 'seed': {seed} gives an all-cancelling column for D = {D}, d = {d}; "
                         "use another seed or a larger nnz")
    vals = (sign / norm2.sqrt()[cols]).reshape(-1)
    cols = cols.reshape(-1)
    order = torch.argsort(cols, stable=True)  # P^T in CSR: the entries sorted by column
    crow_t = torch.cat([torch.zeros(1, dtype=torch.int64), torch.bincount(cols, minlength=d).cumsum(0)])
    with warnings.catch_warnings():  # CSR is "beta"; repeated indices within a row are summed, as wanted
        warnings.simplefilter("ignore")
        P = torch.sparse_csr_tensor(torch.arange(0, nnz * D + 1, nnz, dtype=itype), cols, vals, (D, d))
        PT = torch.sparse_csr_tensor(crow_t.to(itype), (order // nnz).to(itype), vals[order], (d, D))
    P, PT = P.to(device), PT.to(device)
    return Projection("sparse", D, d, seed, lambda w: _SparseMM.apply(w, P, PT), dict(P=P, PT=PT))


class _SparseMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, P, PT):
        ctx.PT = PT
        w2 = w.reshape(-1, w.shape[-1])
        return (P @ w2.T).T.reshape(*w.shape[:-1], P.shape[0])

    @staticmethod
    def backward(ctx, g):
        g2 = g.reshape(-1, g.shape[-1])
        return (ctx.PT @ g2.T).T.reshape(*g.shape[:-1], ctx.PT.shape[0]), None, None


def fastfood_projection(D: int, d: int, seed: int = 0, *, block: int | None = None, device=None,
                        dtype=torch.float32) -> Projection:
    """Stacked Fastfood blocks H G Π H B of size ``block`` (default 2^ceil(log2 d)), cut to D rows; see module doc."""
    _check_dims(D, d)
    L = block or 1 << (d - 1).bit_length()
    check_arg("block", block, L >= d and L & (L - 1) == 0, f"a power of two >= d = {d}")
    n = -(-D // L)
    g = torch.Generator().manual_seed(_seed(seed, 2))
    B = (torch.randint(0, 2, (n, L), generator=g) * 2 - 1).to(dtype)
    perm = torch.argsort(torch.rand(n, L, generator=g), dim=-1)
    G = torch.randn(n, L, generator=g, dtype=dtype)
    G = G / torch.sqrt(L * (G ** 2).sum(-1, keepdim=True) * (D / L))  # exact unit columns per block, / sqrt(D / L)
    B, perm, G = B.to(device), perm.to(device), G.to(device)
    return Projection("fastfood", D, d, seed, lambda w: _fastfood(w[None], B[None], perm[None], G[None], D)[0],
                      dict(B=B, perm=perm, G=G))


def _fastfood(w: torch.Tensor, B: torch.Tensor, perm: torch.Tensor, G: torch.Tensor, D: int) -> torch.Tensor:
    """Fastfood of w (S, ..., d) -> (S, ..., D): group s through its own blocks B[s], perm[s], G[s] (S, n, L) each,
    all S groups in one pass."""
    S, n, L = B.shape
    mid = w.shape[1:-1]
    shape = (S, *(1,) * len(mid), n, L)
    x = F.pad(w, (0, L - w.shape[-1])).unsqueeze(-2) * B.view(shape)  # (S, ..., n, L)
    x = fwht(x)
    x = torch.gather(x, -1, perm.view(shape).expand(S, *mid, n, L))
    x = fwht(x * G.view(shape))
    return x.reshape(S, *mid, n * L)[..., :D]


def make_projection(kind: str, D: int, d: int, seed: int = 0, **kw) -> Projection:
    """The projection ``kind`` (one of PROJECTIONS) from R^d to R^D drawn from ``seed``."""
    makers = dict(dense=dense_projection, blocked=blocked_projection, sparse=sparse_projection,
                  fastfood=fastfood_projection)
    check_arg("projection", kind, kind in makers, f"one of {', '.join(PROJECTIONS)}")
    return makers[kind](D, d, seed, **kw)


def stack_projections(projs: Sequence[Projection], group: int) -> Projection:
    """One projection for a stack w (K, d), K = len(projs)·group: members [i·group, (i+1)·group) use projs[i].
    Fastfood projections of one block size run as one pass (bit for bit each group through its own)."""
    D, d = projs[0].D, projs[0].d
    check_arg("projs", [p.kind for p in projs], all(p.D == D and p.d == d for p in projs),
              "projections of equal D and d")
    K = len(projs) * group
    fastfood = all(p.kind == "fastfood" and p.state["B"].shape == projs[0].state["B"].shape for p in projs)
    if fastfood:  # one pass for every group
        B, perm, G = (torch.stack([p.state[k] for p in projs]) for k in ("B", "perm", "G"))

    def apply(w: torch.Tensor) -> torch.Tensor:
        check_arg("w", tuple(w.shape), w.ndim == 2 and w.shape[0] == K, f"shape ({K}, {d})")
        if fastfood:
            return _fastfood(w.view(len(projs), group, d), B, perm, G, D).reshape(K, D)
        return torch.cat([p(wi) for p, wi in zip(projs, w.split(group))])

    return Projection("stack:" + projs[0].kind, D, d, projs[0].seed, apply,
                      {f"{i}.{k}": t for i, p in enumerate(projs) for k, t in p.state.items()})
