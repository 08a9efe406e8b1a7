"""Checked files and the one load-if-present-else-compute cache for expensive results.

Every file carries a SHA-256 of its contents and is written to a temporary name, then renamed:
a crash mid-write leaves no file, and a corrupt or truncated file is detected, deleted and
recomputed, never used.

:func:`cached` derives its key; nobody types one. The key is a hash of

* the name of the result,
* a fingerprint of the ``wedges_lib`` code (:func:`library_fingerprint`): any change to the library's
  code, in any of its modules and subpackages, recomputes every result, so nothing computed by older code
  is ever served (docstrings and comments are not code: editing them recomputes nothing);
* the code of ``compute`` itself (its bytecode and constants, nested functions included);
* the values of exactly the configuration entries ``compute`` read: it receives the configuration
  wrapped in a recorder, and the names it read are kept beside the results (a computation's reads are
  a function of the values it read, so looking up with the recorded names is exact);
* the extra ``inputs`` (tensors and datasets by content, other values by ``repr``).

A computation must take everything it depends on from its configuration argument or its inputs;
a value it picks up from the enclosing scope is not part of the key.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import types
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from .config import Config


def cache_dir() -> Path:
    """Where generated data and cached results live: ``$WEDGES_DATA`` or ``~/.cache/wedges`` (a folder)."""
    path = Path(os.environ.get("WEDGES_DATA", Path.home() / ".cache" / "wedges"))
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"WEDGES_DATA={path} is a file, not a folder: set WEDGES_DATA to a folder (it holds "
                                 f"the data sets and the result cache) or unset it to use ~/.cache/wedges")
    return path


def save_checked(obj: Any, path: Path) -> None:
    """torch.save ``obj`` (tensors, dicts, lists, numbers) with a SHA-256 header, atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    os.replace(tmp, path)


def load_checked(path: Path) -> Any | None:
    """The object saved by :func:`save_checked`, or None when the file is missing or corrupt."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    digest, _, payload = raw.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        warnings.warn(f"cache file {path} is corrupt or truncated; rebuilding it", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    # a file written on a GPU machine holds CUDA tensors: read it onto the CPU where there is no GPU
    where = None if torch.cuda.is_available() else "cpu"
    return torch.load(io.BytesIO(payload), weights_only=True, map_location=where)


# files under the package, other than Python source, that the library could read: hashed byte for byte
_DATA_SUFFIXES = (".json", ".yml", ".yaml", ".toml", ".csv", ".txt")


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without the docstrings of its module, classes and functions (removed in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                del body[0]
    return tree


@functools.lru_cache(maxsize=None)
def library_fingerprint(root: str | None = None) -> str:
    """SHA-256 (hex) of the code of the ``wedges_lib`` package (or of the package folder ``root``).

    Every ``.py`` file under the folder, subpackages included (sorted, each with its path relative to the
    folder), enters as its syntax tree without docstrings (``ast.dump``, which holds neither comments nor line
    numbers): a change to the code changes the fingerprint; editing a docstring or a comment, or reflowing
    lines, does not. Data files the library could read (``.json``, ``.yml``, ``.yaml``, ``.toml``, ``.csv``,
    ``.txt``) enter byte for byte. Used in every cache key and in the book's execution cache
    (:mod:`wedges_lib.notebook`). Computed once per process and folder.
    """
    folder = Path(root) if root is not None else Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = (p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(folder).parts)
    for path in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        if path.suffix == ".py":
            content = ast.dump(_strip_docstrings(ast.parse(path.read_bytes(), filename=str(path)))).encode()
        elif path.suffix in _DATA_SUFFIXES:
            content = path.read_bytes()
        else:
            continue
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + content + b"\0")
    return h.hexdigest()


def _code_digest(code: types.CodeType, h) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode())


def _digest(value: Any, h) -> None:
    """Feed a stable description of ``value`` to the hash ``h``: tensors by content, containers recursively."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"tensor{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for v in value:
            _digest(v, h)
    elif isinstance(value, Mapping):
        h.update(f"map{len(value)}".encode())
        for k in sorted(value, key=str):
            h.update(str(k).encode())
            _digest(value[k], h)
    elif hasattr(value, "__dataclass_fields__"):  # e.g. data.Dataset: every field
        h.update(type(value).__name__.encode())
        for k in value.__dataclass_fields__:
            h.update(k.encode())
            _digest(getattr(value, k), h)
    elif isinstance(value, torch.nn.Module):  # an architecture: its structure and parameter shapes
        h.update(repr(value).encode())
        h.update(repr([(n, tuple(p.shape)) for n, p in value.named_parameters()]).encode())
    elif callable(value) and hasattr(value, "__code__"):
        _code_digest(value.__code__, h)
    else:
        h.update(repr(value).encode())


class _Recorder(Config):
    """A read-only configuration that notes which entries were read (attribute reads go through
    ``__getitem__``, via :class:`~wedges_lib.config.Config`)."""

    def __init__(self, cfg: Mapping, reads: set):
        dict.__init__(self, cfg)
        object.__setattr__(self, "_reads", reads)

    def __getitem__(self, key):
        self._reads.add(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._reads.add(key)
        return dict.get(self, key, default)

    def _read_all(self):
        self._reads.update(dict.keys(self))

    def __iter__(self):
        self._read_all()
        return dict.__iter__(self)

    def keys(self):
        self._read_all()
        return dict.keys(self)

    def items(self):
        self._read_all()
        return dict.items(self)

    def values(self):
        self._read_all()
        return dict.values(self)


def _key(name: str, base: str, cfg: Mapping, reads) -> str:
    h = hashlib.sha256(base.encode())
    _digest({k: cfg.get(k, "<absent>") for k in sorted(reads)}, h)
    return f"{name}-{h.hexdigest()[:20]}"


def cached(name: str, cfg: Mapping, compute: Callable[..., Any], /, **inputs: Any) -> Any:
    """``compute(cfg, **inputs)``, loaded from the cache when the same computation was done before.

    ``cfg`` is the chapter's resolved configuration; ``compute`` receives it wrapped so that the entries it
    reads are recorded and only those enter the key (see the module doc for the whole key). ``inputs`` are
    any further values it needs (tensors, a dataset, a curve's name). ``$WEDGES_NO_CACHE=1`` recomputes.

    Used in :ref:`ch-radius` and :ref:`ch-your-model`.
    """
    if not name or "/" in name:
        raise ValueError(f"parameter 'name': got {name!r}; expected a non-empty name without '/'")
    h = hashlib.sha256(f"{name}\0{library_fingerprint()}\0".encode())
    _code_digest(compute.__code__, h)
    _digest(inputs, h)
    base = h.hexdigest()
    folder = cache_dir() / "results"
    manifest = folder / f"{name}-{base[:20]}.reads.json"
    use = os.environ.get("WEDGES_NO_CACHE") != "1"
    try:
        known = set(json.loads(manifest.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        known = None
    if use and known is not None:
        hit = load_checked(folder / f"{_key(name, base, cfg, known)}.pt")
        if hit is not None:
            return hit
    reads: set = set()
    value = compute(_Recorder(cfg, reads), **inputs)
    reads |= known or set()  # a superset of the reads still gives an exact key
    save_checked(value, folder / f"{_key(name, base, cfg, reads)}.pt")
    tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sorted(reads)))
    os.replace(tmp, manifest)
    return value
