"""Checked files and the load-if-present-else-compute cache for expensive results.

Every file carries a SHA-256 of its contents and is written to a temporary name, then renamed:
a crash mid-write leaves no file, and a corrupt or truncated file is detected, deleted and
recomputed, never used.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from . import __version__


def cache_dir() -> Path:
    """Where generated data and cached results live: ``$WEDGES_DATA`` or ``~/.cache/wedges``."""
    return Path(os.environ.get("WEDGES_DATA", Path.home() / ".cache" / "wedges"))


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


def key(name: str, params: dict) -> str:
    """A file name for ``name`` computed with ``params``: a hash of both and the library version."""
    blob = json.dumps({"name": name, "params": params, "version": __version__}, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.pt"


def cached(name: str, params: dict, compute: Callable[[], Any]) -> Any:
    """``compute()``'s result, loaded from the cache when ``params`` were seen before (``$WEDGES_NO_CACHE=1`` skips it)."""
    path = cache_dir() / "results" / key(name, params)
    if os.environ.get("WEDGES_NO_CACHE") != "1":
        hit = load_checked(path)
        if hit is not None:
            return hit
    value = compute()
    save_checked(value, path)
    return value
